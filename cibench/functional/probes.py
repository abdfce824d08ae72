"""Each scenario's capability probe, run once a session, and the files its findings go to.

The functional stage probes a scenario's server on its first case; the scenario's later cases
reuse the findings. A probe the server refused (401/403, 429, a hung server) is no evidence
about capabilities: the refusal is remembered, and every case of the scenario fails with it.
The findings go to `capabilities.json` (a later run's capability baseline); each capability
the baseline had becomes one row of the `capabilities` suite in the functional CSV, failed
when it is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from cibench.artifacts import ScenarioWriter
from cibench.client.guard import RequestGuard
from cibench.config.scenario import Features
from cibench.errors import CibenchError
from cibench.functional.capabilities import Capabilities, lost_capabilities, probe
from cibench.functional.capability_baseline import CapabilityBaseline, load_capability_baseline
from cibench.functional.results import case_row
from cibench.functional.schemas import SchemaSet
from cibench.redact import scrub


class ProbeRefused(CibenchError):
    """The server refused the scenario's capability probe; its every case fails with this."""


class ScenarioProbes:
    """One pytest process's probe findings, refusals and capability baselines, by scenario id."""

    def __init__(self) -> None:
        self._found: dict[str, Capabilities] = {}
        self._refused: dict[str, str] = {}
        self._baselines: dict[str, CapabilityBaseline | None] = {}

    def baseline(
        self, scenario_id: str, source: str | None, exclude: Path | None = None
    ) -> CapabilityBaseline | None:
        """What an earlier run's probe found for the scenario (read once; None without a
        source or a finding there). An unreadable source raises `CibenchError`."""
        if scenario_id not in self._baselines:
            found = (
                load_capability_baseline(Path(source), scenario_id, exclude=exclude)
                if source
                else None
            )
            self._baselines[scenario_id] = found
        return self._baselines[scenario_id]

    def capabilities(
        self,
        scenario_id: str,
        client: httpx.Client,
        guard: RequestGuard,
        model: str,
        schemas: SchemaSet,
        on_probed: Callable[[Capabilities], None],
    ) -> Capabilities:
        """What the scenario's server supports: probed through `client` (whose transport is
        `guard`) on the first call, when `on_probed` gets the findings, then cached.

        :raises ProbeRefused: the probe, now or earlier in the session, was refused.
        """
        if scenario_id in self._refused:
            raise ProbeRefused(self._refused[scenario_id])
        if scenario_id not in self._found:
            found = probe(client, scenario_id, model, schemas)
            if guard.refusal is not None:
                why = f"capability probe of '{scenario_id}' refused: {scrub(guard.refusal)}"
                self._refused[scenario_id] = why
                raise ProbeRefused(why)
            self._found[scenario_id] = found
            on_probed(found)
        return self._found[scenario_id]


def record_capabilities(
    stage_dir: Path,
    worker: str,
    found: Capabilities,
    baseline: CapabilityBaseline | None,
    features: Features,
) -> None:
    """Write `capabilities.json` (`capabilities-<worker>.json` on an xdist worker) and, with a
    baseline, one `capabilities` row per capability it had: failed when it is lost now."""
    name = "capabilities.json" if worker == "master" else f"capabilities-{worker}.json"
    (stage_dir / name).write_text(scrub(json.dumps(found.as_json(), indent=2)) + "\n")
    if baseline is None:
        return
    writer = ScenarioWriter(stage_dir)
    for capability, why in lost_capabilities(baseline, features, found).items():
        row = case_row("capabilities", capability, "fail" if why else "pass", why, 0.0)
        writer.record_case(row, worker)
