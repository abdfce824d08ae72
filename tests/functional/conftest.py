"""Functional-stage fixtures: the per-scenario capability probe (cached) and one CSV row a case."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cibench.artifacts import ScenarioWriter
from cibench.client.guard import RequestGuard
from cibench.config.scenario import Features
from cibench.errors import CibenchError
from cibench.functional.capabilities import Capabilities, lost_capabilities, probe
from cibench.functional.capability_baseline import CapabilityBaseline, load_capability_baseline
from cibench.functional.results import CaseRecord, Status, case_row
from cibench.functional.schemas import SchemaSet
from cibench.launch import Endpoint
from cibench.plan import FunctionalItem
from cibench.redact import scrub
from cibench.session import RunContext

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Keep each phase's report on the item, so the CSV row can say how the case ended."""
    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def functional_schemas() -> SchemaSet:
    """The response JSON schemas, loaded once."""
    return SchemaSet.load()


@pytest.fixture(scope="session")
def capability_cache() -> dict[str, Capabilities]:
    """Probe results by scenario id: each scenario's server is probed once per session."""
    return {}


@pytest.fixture(scope="session")
def probe_refusals() -> dict[str, str]:
    """Why a scenario's probe was refused (401/403, 429, hung server), by scenario id."""
    return {}


@pytest.fixture(scope="session")
def capability_baseline_cache() -> dict[str, CapabilityBaseline | None]:
    """The capability baseline by scenario id, read once per session."""
    return {}


@pytest.fixture
def capability_baseline(
    functional_case: FunctionalItem,
    cibench_run: RunContext,
    capability_baseline_cache: dict[str, CapabilityBaseline | None],
) -> CapabilityBaseline | None:
    """What an earlier run's probe found for this scenario (None without a baseline)."""
    scenario_id = functional_case.scenario_id
    if scenario_id not in capability_baseline_cache:
        source = cibench_run.capability_baseline
        try:
            found = (
                load_capability_baseline(Path(source), scenario_id, exclude=cibench_run.run_dir)
                if source
                else None
            )
        except CibenchError as exc:
            pytest.fail(str(exc), pytrace=False)
        capability_baseline_cache[scenario_id] = found
    return capability_baseline_cache[scenario_id]


def _record_capabilities(
    stage_dir: Path,
    worker: str,
    found: Capabilities,
    baseline: CapabilityBaseline | None,
    features: Features,
) -> None:
    name = "capabilities.json" if worker == "master" else f"capabilities-{worker}.json"
    (stage_dir / name).write_text(scrub(json.dumps(found.as_json(), indent=2)) + "\n")
    if baseline is None:
        return
    # One row per capability the baseline had: the `capabilities` suite fails on a lost one.
    writer = ScenarioWriter(stage_dir)
    for capability, why in lost_capabilities(baseline, features, found).items():
        row = case_row("capabilities", capability, "fail" if why else "pass", why, 0.0)
        writer.record_case(row, worker)


@pytest.fixture
def capabilities(
    functional_case: FunctionalItem,
    server: Endpoint,
    http_client: httpx.Client,
    request_guard: RequestGuard,
    capability_cache: dict[str, Capabilities],
    probe_refusals: dict[str, str],
    capability_baseline: CapabilityBaseline | None,
    functional_schemas: SchemaSet,
    stage_dir: Path,
    cibench_run: RunContext,
) -> Capabilities:
    """What the scenario's server supports (probed on first use, then cached).

    A refusal during the probe (wrong key, rate limit, hung server) fails every case of the
    scenario with that reason: it is no evidence about capabilities, so nothing is skipped.
    """
    scenario_id = functional_case.scenario_id
    if scenario_id in probe_refusals:
        pytest.fail(probe_refusals[scenario_id], pytrace=False)
    if scenario_id not in capability_cache:
        found = probe(http_client, scenario_id, server.model, functional_schemas)
        if request_guard.refusal is not None:
            probe_refusals[scenario_id] = (
                f"capability probe of '{scenario_id}' refused: {scrub(request_guard.refusal)}"
            )
            pytest.fail(probe_refusals[scenario_id], pytrace=False)
        capability_cache[scenario_id] = found
        _record_capabilities(
            stage_dir,
            cibench_run.worker_id,
            found,
            capability_baseline,
            server.scenario.features,
        )
    return capability_cache[scenario_id]


def _outcome(item: pytest.Item, record: CaseRecord) -> tuple[Status, str, float]:
    reports = item.stash.get(REPORTS, {})
    report = reports.get("call") or reports.get("setup")
    if report is None:
        return "fail", "the case did not run", 0.0
    if report.passed:
        return "pass", "", report.duration
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return "skip", reason.removeprefix("Skipped: "), report.duration
    if record.failures:
        return "fail", "; ".join(record.failures), report.duration
    crash = getattr(report.longrepr, "reprcrash", None)
    reason = crash.message if crash is not None else str(report.longrepr)
    return "fail", f"{report.when}: {reason.removeprefix('Failed: ')}", report.duration


@pytest.fixture(autouse=True)
def functional_record(request: pytest.FixtureRequest) -> Iterator[CaseRecord]:
    """After every functional case, append its row to the scenario's functional CSV."""
    record = CaseRecord()
    callspec = getattr(request.node, "callspec", None)
    item = callspec.params.get("functional_case") if callspec is not None else None
    if not isinstance(item, FunctionalItem):
        yield record
        return
    stage_dir: Path = request.getfixturevalue("stage_dir")
    run: RunContext = request.getfixturevalue("cibench_run")
    yield record
    status, reason, duration = _outcome(request.node, record)
    row = case_row(item.suite.suite, item.case.id, status, reason, duration)
    ScenarioWriter(stage_dir).record_case(row, run.worker_id)
