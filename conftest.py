"""Registers the cibench plugin for runs from a source tree where the package is not installed."""

from importlib.metadata import entry_points

if not any(ep.name == "cibench" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["cibench.plugin"]
