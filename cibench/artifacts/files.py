"""Typed JSON files of a run directory: `session.json`, `<scenario>/run.json`, `gates.json`.

Reading tolerates unknown keys (a newer cibench may add some) and the looser shapes older
versions wrote; writing always produces the full current shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

STAGE_ORDER = ("functional", "perf", "accuracy")


class _JsonFile(BaseModel):
    model_config = ConfigDict(extra="ignore")


def timestamp_s(value: float | str | None) -> float | None:
    """Seconds since the epoch from a number or an ISO-8601 string (None when neither)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class SessionScenario(_JsonFile):
    """One entry of `session.json` `scenarios`: what was expected of a scenario."""

    stages: list[str] = Field(default_factory=list)
    model: str = ""
    served_model_name: str | None = None
    quant: str = ""
    hardware: str = ""
    mode: str = ""


class SessionFile(_JsonFile):
    """`artifacts/<run_id>/session.json`: the run and its scenarios, written at session end."""

    run_id: str
    run_type: str
    commit: str | None = None
    branch: str | None = None
    start: float | str | None = None
    end: float | str | None = None
    cibench_version: str | None = None
    scenarios: dict[str, SessionScenario] = Field(default_factory=dict)
    exit_status: int | None = None
    """pytest's exit status, stamped when the session ends (None: it has not ended)."""
    interrupted: bool = False

    @property
    def start_s(self) -> float | None:
        return timestamp_s(self.start)

    @property
    def end_s(self) -> float | None:
        return timestamp_s(self.end)


class RunFile(_JsonFile):
    """`artifacts/<run_id>/<scenario>/run.json`: the server a scenario ran against."""

    scenario: str | None = None
    mode: str | None = None
    model: str | None = None
    served_model_name: str | None = None
    quant: str | None = None
    hardware: str | None = None
    run_type: str | None = None
    run_id: str | None = None
    commit: str | None = None
    branch: str | None = None
    start: float | str | None = None
    end: float | str | None = None
    cibench_version: str | None = None
    base_url: str | None = None
    server_version: Any = None
    """The server's `/version` answer (vLLM: `{"version": "0.11.0"}`), or None."""
    server_models: Any = None
    """The server's `/v1/models` answer, or None."""
    clock_origin_unix_ns: int | None = None
    """Unix time (ns) read together with `clock_origin_perf_counter_ns` when the scenario
    started: maps any `time.perf_counter_ns()` stamp of this host onto wall-clock time."""
    clock_origin_perf_counter_ns: int | None = None
    """`time.perf_counter_ns()` (CLOCK_MONOTONIC, shared by the host's processes) at that
    moment."""
    launch_error: str | None = None
    server_error: str | None = None
    """Why the server stopped while the tests ran (`server died with exit code 1, ...`)."""
    exit_status: int | None = None
    interrupted: bool = False

    @property
    def vllm_version(self) -> str | None:
        """The version the server reported, if any."""
        version = self.server_version
        if isinstance(version, dict):
            found = version.get("version")
            return str(found) if found is not None else None
        if isinstance(version, str) and version:
            return version
        return None


class VerdictRecord(_JsonFile):
    """One gate verdict in `gates.json` (SPEC §8 fields plus where it applies)."""

    gate: str
    stage: str
    scenario: str
    load_point: str | None = None
    subject: str = ""
    metric: str
    baseline: float | None = None
    current: float | None = None
    delta: float | None = None
    threshold: float | None = None
    interval: list[float] | None = None
    """Regression gates: [low, high] of `delta` (the bootstrap confidence interval)."""
    samples: int | None = None
    margin_source: str | None = None
    low_confidence: bool = False
    verdict: str
    detail: str = ""


class GatesFile(_JsonFile):
    """`artifacts/<run_id>/gates.json`: the post-session outcome and every verdict."""

    run_id: str | None = None
    run_type: str | None = None
    gates_enabled: bool = True
    baseline: str | None = None
    failed: bool = False
    gate_failed: bool = False
    push_error: str | None = None
    baseline_error: str | None = None
    """`--baseline` named a source that does not exist or cannot be read."""
    interrupted: bool = False
    exit_code: int = 0
    functional_skipped: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Per scenario, skipped functional cases counted by reason (evidence left out)."""
    verdicts: list[VerdictRecord] = Field(default_factory=list)
