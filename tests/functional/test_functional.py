"""The functional stage: every case of configs/tests/functional/*.yaml against the scenario."""

from __future__ import annotations

import httpx
import pytest

from cibench.functional.capabilities import Capabilities
from cibench.functional.capability_baseline import CapabilityBaseline
from cibench.functional.results import CaseRecord
from cibench.functional.schemas import SchemaSet
from cibench.functional.stage import Server as StageServer
from cibench.functional.stage import evaluate_case
from cibench.launch import Endpoint
from cibench.plan import FunctionalItem
from cibench.session import RunContext

pytestmark = pytest.mark.functional


def _scenario_file(run: RunContext, scenario_id: str) -> str | None:
    """Where the scenario's features are declared; None for one given by URL (--features)."""
    path = run.configs.root / "scenarios" / f"{scenario_id}.yaml"
    return str(path) if path.exists() else None


def test_functional(
    functional_case: FunctionalItem,
    server: Endpoint,
    capabilities: Capabilities,
    capability_baseline: CapabilityBaseline | None,
    http_client: httpx.Client,
    functional_schemas: SchemaSet,
    functional_record: CaseRecord,
    cibench_run: RunContext,
) -> None:
    scenario = server.scenario
    view = StageServer(
        model=server.model,
        features=scenario.features,
        capabilities=capabilities,
        schemas=functional_schemas,
        declared_in=_scenario_file(cibench_run, scenario.id),
        reasoning_key=scenario.reasoning_key,
        baseline=capability_baseline,
    )
    outcome = evaluate_case(http_client, functional_case.case, view)
    if outcome.status == "skip":
        pytest.skip(outcome.reason)
    functional_record.failures = list(outcome.failures)
    if outcome.status == "fail":
        pytest.fail(outcome.reason, pytrace=False)
