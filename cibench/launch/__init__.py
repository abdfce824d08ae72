"""Launchers: start or reach a scenario's server and hand tests an `Endpoint`.

`K8sLauncher` loads on first use: the kubernetes client takes a third of a second to import,
and most runs never need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cibench.client.endpoint import Endpoint, ServerProcess
from cibench.config.scenario import Scenario
from cibench.errors import LaunchError
from cibench.launch.base import Launcher
from cibench.launch.external import ExternalLauncher
from cibench.launch.local import LocalLauncher

if TYPE_CHECKING:
    from cibench.launch.k8s import K8sLauncher

__all__ = [
    "Endpoint",
    "ExternalLauncher",
    "K8sLauncher",
    "Launcher",
    "LocalLauncher",
    "ServerProcess",
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
        from cibench.launch.k8s import K8sLauncher

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


def __getattr__(name: str) -> Any:
    """`from cibench.launch import K8sLauncher` imports the kubernetes client only then."""
    if name == "K8sLauncher":
        from cibench.launch.k8s import K8sLauncher

        return K8sLauncher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
