"""Helpers for cibench's own tests: hand-made run directories, a real Pushgateway, promtool."""
