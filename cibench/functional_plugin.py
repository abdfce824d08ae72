"""The functional stage's fixtures and its CSV row per case (registered by `cibench.plugin`).

Any test that takes `functional_case` gets one row in its scenario's functional CSV when it
ends, passed, failed or skipped, even when a fixture failed first (a server that did not start,
a refused capability probe). A repository's functional test is then a thin caller:

    def test_functional(functional_case, functional_server, http_client, functional_record):
        check_functional_case(functional_case, functional_server, http_client, functional_record)

`check_functional_case` is in `cibench.stages`. The capability probe runs once per scenario
and writes `capabilities.json` (`cibench.functional.probes`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest

from cibench.artifacts import ScenarioWriter
from cibench.client.endpoint import Endpoint
from cibench.client.guard import RequestGuard
from cibench.errors import CibenchError
from cibench.functional.capabilities import Capabilities
from cibench.functional.capability_baseline import CapabilityBaseline
from cibench.functional.probes import ProbeRefused, ScenarioProbes, record_capabilities
from cibench.functional.results import CaseRecord, Status, case_row
from cibench.functional.schemas import SchemaSet
from cibench.functional.stage import Server
from cibench.plan import FunctionalItem
from cibench.session import RunContext

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the CSV row can say how the case ended."""
    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def functional_schemas() -> SchemaSet:
    """The response JSON schemas, loaded once."""
    return SchemaSet.load()


@pytest.fixture(scope="session")
def scenario_probes() -> ScenarioProbes:
    """Probe findings, refusals and capability baselines: each scenario's once per session."""
    return ScenarioProbes()


@pytest.fixture
def capability_baseline(
    functional_case: FunctionalItem, cibench_run: RunContext, scenario_probes: ScenarioProbes
) -> CapabilityBaseline | None:
    """What an earlier run's probe found for this scenario (None without a baseline)."""
    try:
        return scenario_probes.baseline(
            functional_case.scenario_id, cibench_run.capability_baseline, cibench_run.run_dir
        )
    except CibenchError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def capabilities(
    functional_case: FunctionalItem,
    server: Endpoint,
    http_client: httpx.Client,
    request_guard: RequestGuard,
    scenario_probes: ScenarioProbes,
    capability_baseline: CapabilityBaseline | None,
    functional_schemas: SchemaSet,
    stage_dir: Path,
    cibench_run: RunContext,
) -> Capabilities:
    """What the scenario's server supports (probed on first use, then cached).

    A refusal during the probe (wrong key, rate limit, hung server) fails every case of the
    scenario with that reason: it is no evidence about capabilities, so nothing is skipped.
    """

    def record(found: Capabilities) -> None:
        features = server.scenario.features
        record_capabilities(stage_dir, cibench_run.worker_id, found, capability_baseline, features)

    try:
        return scenario_probes.capabilities(
            functional_case.scenario_id,
            http_client,
            request_guard,
            server.model,
            functional_schemas,
            record,
        )
    except ProbeRefused as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def functional_server(
    server: Endpoint,
    capabilities: Capabilities,
    capability_baseline: CapabilityBaseline | None,
    functional_schemas: SchemaSet,
    cibench_run: RunContext,
) -> Server:
    """What the functional stage knows about the scenario's server: model, declared features
    (and the scenario file that declares them), probe findings, schemas, capability baseline."""
    scenario = server.scenario
    path = cibench_run.configs.root / "scenarios" / f"{scenario.id}.yaml"
    return Server(
        model=server.model,
        features=scenario.features,
        capabilities=capabilities,
        schemas=functional_schemas,
        # None for a scenario given by URL (declared with --features)
        declared_in=str(path) if path.exists() else None,
        reasoning_key=scenario.reasoning_key,
        baseline=capability_baseline,
    )


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
