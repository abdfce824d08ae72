"""Capacity questions: the largest load under an SLO (search), and what broke it."""
