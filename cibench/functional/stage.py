"""Decide and run one functional case against a server: the stage's logic without pytest.

The pytest stage (tests/functional) and the mutation harness (benchmarks/mutation) both call
`evaluate_case`, so the harness kills mutants with exactly the decisions CI makes.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from cibench.config.functional import FunctionalCase
from cibench.config.scenario import Features
from cibench.functional.capabilities import Capabilities, admit
from cibench.functional.capability_baseline import CapabilityBaseline
from cibench.functional.checks import CheckContext, check_case
from cibench.functional.results import Status
from cibench.functional.runner import run_case
from cibench.functional.schemas import SchemaSet
from cibench.functional.sdk_runner import run_sdk_case


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """How one case ended: `pass`, `fail` (with every failure) or `skip` (with the reason)."""

    status: Status
    failures: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The failures on one line each, or the skip reason."""
        return "\n".join(self.failures)


@dataclass(frozen=True, slots=True)
class Server:
    """What the stage knows about the server under test."""

    model: str
    features: Features
    capabilities: Capabilities
    schemas: SchemaSet
    declared_in: str | None = None
    reasoning_key: str | None = None
    baseline: CapabilityBaseline | None = None


def evaluate_case(client: httpx.Client, case: FunctionalCase, server: Server) -> CaseOutcome:
    """Skip, fail or run `case` (see `admit`), then check what came back."""
    caps = server.capabilities
    admission = admit(
        case.capabilities_needed, server.features, caps, server.declared_in, server.baseline
    )
    if admission.action == "skip":
        return CaseOutcome("skip", (admission.reason,))
    if admission.action == "fail":
        return CaseOutcome("fail", (admission.reason,))
    if case.client == "openai":
        found = run_sdk_case(client, case, server.model)
        return CaseOutcome("fail" if found else "pass", tuple(found))
    observed = run_case(client, case, server.model)
    context = CheckContext(
        served_model=server.model,
        schemas=server.schemas,
        reasoning_key=server.reasoning_key or caps.reasoning_key,
        error_style=caps.error_style,
        completions_usage=caps.completions_usage,
    )
    failures = check_case(case, observed, context)
    return CaseOutcome("fail" if failures else "pass", tuple(failures))
