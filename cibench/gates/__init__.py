"""Completeness, functional, accuracy and regression gates over a run's results."""
