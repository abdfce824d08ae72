"""Launchers: start or reach a scenario's server and hand tests an `Endpoint`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cibench.config.scenario import Scenario
from cibench.errors import LaunchError
from cibench.launch.base import Endpoint, Launcher
from cibench.launch.external import ExternalLauncher
from cibench.launch.k8s import K8sLauncher
from cibench.launch.local import LocalLauncher

__all__ = [
    "Endpoint",
    "ExternalLauncher",
    "K8sLauncher",
    "Launcher",
    "LocalLauncher",
    "make_launcher",
    "open_endpoint",
]


def make_launcher(scenario: Scenario, log_dir: Path, api_key: str | None = None) -> Launcher:
    """The launcher for the scenario's mode (constructing it starts nothing)."""
    if scenario.mode == "local":
        return LocalLauncher(scenario, log_dir)
    if scenario.mode == "external":
        return ExternalLauncher(scenario, api_key=api_key)
    if scenario.mode in ("k8s-hybrid", "k8s-pd"):
        return K8sLauncher(scenario, log_dir, api_key=api_key)
    raise LaunchError(f"scenario '{scenario.id}': unknown mode '{scenario.mode}'.")


@contextmanager
def open_endpoint(
    scenario: Scenario, log_dir: Path, api_key: str | None = None
) -> Iterator[Endpoint]:
    """Start (local, k8s) or health-check (external) a scenario for the duration of the block."""
    launcher = make_launcher(scenario, log_dir, api_key=api_key)
    try:
        yield launcher.start()
    finally:
        launcher.stop()
