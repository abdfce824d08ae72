"""The functional stage: every case of configs/tests/functional/*.yaml against the scenario."""

from __future__ import annotations

import httpx
import pytest

from cibench.functional.capabilities import Capabilities, skip_reason
from cibench.functional.checks import CheckContext, check_case
from cibench.functional.results import CaseRecord
from cibench.functional.runner import run_case
from cibench.functional.schemas import SchemaSet
from cibench.launch import Endpoint
from cibench.plan import FunctionalItem
from cibench.session import RunContext

pytestmark = pytest.mark.functional


def _scenario_file(run: RunContext, scenario_id: str) -> str:
    path = run.configs.root / "scenarios" / f"{scenario_id}.yaml"
    return str(path) if path.exists() else f"scenario '{scenario_id}'"


def test_functional(
    functional_case: FunctionalItem,
    server: Endpoint,
    capabilities: Capabilities,
    http_client: httpx.Client,
    functional_schemas: SchemaSet,
    functional_record: CaseRecord,
    cibench_run: RunContext,
) -> None:
    case = functional_case.case
    scenario = server.scenario
    reason = skip_reason(
        case.capabilities_needed,
        scenario.features,
        capabilities,
        _scenario_file(cibench_run, scenario.id),
    )
    if reason is not None:
        pytest.skip(reason)
    observed = run_case(http_client, case, server.model)
    context = CheckContext(
        served_model=server.model,
        schemas=functional_schemas,
        reasoning_key=scenario.reasoning_key or capabilities.reasoning_key,
        error_style=capabilities.error_style,
        completions_usage=capabilities.completions_usage,
    )
    functional_record.failures = check_case(case, observed, context)
    assert not functional_record.failures, "\n".join(functional_record.failures)
