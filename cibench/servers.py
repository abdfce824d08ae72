"""Keep at most one scenario server running during a pytest session, and record it in run.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cibench import __version__
from cibench.artifacts import RunFile, RunWriter
from cibench.config.scenario import Scenario
from cibench.errors import CibenchError, LaunchError
from cibench.launch import Endpoint, Launcher, make_launcher
from cibench.runinfo import clock_anchor, utc_now_iso


@dataclass
class RunFacts:
    """What every run.json repeats: run id and type, commit and branch."""

    run_id: str
    run_type: str
    commit: str
    branch: str


def _get_json(client: httpx.Client, url: str) -> Any:
    try:
        response = client.get(url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def describe_server(endpoint: Endpoint) -> dict[str, Any]:
    """The server's own answers to `/version` and `/v1/models` (None where it has none)."""
    with httpx.Client(timeout=10.0, headers=endpoint.headers()) as client:
        return {
            "server_version": _get_json(client, f"{endpoint.base_url}/version"),
            "server_models": _get_json(client, f"{endpoint.api_base}/models"),
        }


@dataclass
class ServerPool:
    """Starts scenario servers on demand, one at a time.

    Tests arrive grouped by scenario, so asking for a new scenario stops the previous one
    (a GPU box cannot hold two vLLM servers). A scenario that failed to start is not retried:
    every later test of it fails at once with the same reason.
    """

    run_dir: Path
    facts: RunFacts
    api_key_for: Callable[[str], str | None] = lambda _scenario_id: None
    _current: tuple[str, Launcher, Endpoint] | None = None
    _failures: dict[str, str] = field(default_factory=dict)
    _started: dict[str, str] = field(default_factory=dict)

    def scenario_dir(self, scenario_id: str) -> Path:
        """`artifacts/<run_id>/<scenario_id>/`, created on first use."""
        try:
            return RunWriter(self.run_dir).scenario(scenario_id).directory
        except OSError as exc:
            raise LaunchError(
                f"cannot create the run directory {self.run_dir / scenario_id} "
                f"({exc.strerror or exc}). Pass --artifacts DIR (or set artifacts_dir in "
                f"settings.yaml) to a writable place."
            ) from None

    def endpoint(self, scenario: Scenario) -> Endpoint:
        """The running endpoint for `scenario`, starting it (and stopping another) if needed."""
        if scenario.id in self._failures:
            raise LaunchError(self._failures[scenario.id])
        if self._current is not None and self._current[0] == scenario.id:
            died = self._current[1].died()
            if died is None:
                return self._current[2]
            self._failures[scenario.id] = f"scenario '{scenario.id}': {died}"
            self.stop_current(error=died)
            raise LaunchError(self._failures[scenario.id])
        self.stop_current()
        directory = self.scenario_dir(scenario.id)
        start = utc_now_iso()
        self._started[scenario.id] = start
        try:
            launcher = make_launcher(scenario, directory, self.api_key_for(scenario.id))
            endpoint = launcher.start()
        except CibenchError as exc:
            self._failures[scenario.id] = str(exc)
            self._write_run_json(scenario, start, None, launch_error=str(exc))
            raise
        self._current = (scenario.id, launcher, endpoint)
        self._write_run_json(scenario, start, endpoint, launch_error=None)
        return endpoint

    def stop_current(self, error: str | None = None) -> None:
        """Stop the running scenario, if any, and stamp its end time (and `error`) into run.json."""
        if self._current is None:
            return
        scenario_id, launcher, _ = self._current
        self._current = None
        try:
            launcher.stop()
        finally:
            RunWriter(self.run_dir).scenario(scenario_id).finish(utc_now_iso(), error)

    def _write_run_json(
        self, scenario: Scenario, start: str, endpoint: Endpoint | None, launch_error: str | None
    ) -> None:
        described: dict[str, Any] = describe_server(endpoint) if endpoint is not None else {}
        unix_ns, perf_ns = clock_anchor()
        run = RunFile(
            scenario=scenario.id,
            mode=scenario.mode,
            model=scenario.model,
            served_model_name=endpoint.model if endpoint else scenario.model_name,
            quant=scenario.quant,
            hardware=scenario.hardware,
            run_type=self.facts.run_type,
            run_id=self.facts.run_id,
            commit=self.facts.commit,
            branch=self.facts.branch,
            start=start,
            end=None,
            cibench_version=__version__,
            base_url=endpoint.base_url if endpoint else scenario.base_url,
            launch_error=launch_error,
            clock_origin_unix_ns=unix_ns,
            clock_origin_perf_counter_ns=perf_ns,
            **described,
        )
        RunWriter(self.run_dir).start_scenario(run, scenario.id)
