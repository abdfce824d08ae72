"""Settings model: `configs/settings.yaml`, each value overridable by a pytest option or env var."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat, PositiveInt

from cibench.config.base import StrictModel

Seconds = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class FunctionalTimeouts(StrictModel):
    """How long the functional stage waits for a server (see docs/faults.md)."""

    request_seconds: Seconds = 60.0
    stage_seconds: Seconds = 600.0
    consecutive_timeouts: PositiveInt = 3
    max_retry_after_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0


class GateThresholds(StrictModel):
    """Regression and completeness thresholds (ratios: 0.10 = 10%)."""

    max_failure_ratio: Ratio = 0.05
    max_token_mismatch_ratio: Ratio = 0.0
    ttft_p99_increase: NonNegativeFloat = 0.10
    e2e_p99_increase: NonNegativeFloat = 0.10
    qps_decrease: NonNegativeFloat = 0.05
    capacity_decrease: NonNegativeFloat = 0.10
    """An SLO search's answer (max concurrency or rate under the SLO) may fall this much."""


class Settings(StrictModel):
    """Run-wide settings."""

    default_scenarios: list[str] = Field(default_factory=lambda: ["local-sim"])
    metric_prefix: str = Field(default="vllm_cibench_", pattern=r"^([a-zA-Z_:][a-zA-Z0-9_:]*)?$")
    pushgateway_url: str | None = None
    pushgateway_user_env: str = "PUSHGATEWAY_USER"
    pushgateway_password_env: str = "PUSHGATEWAY_PASSWORD"
    job: str = "vllm_cibench"
    artifacts_dir: str = "artifacts"
    baseline: str | None = None
    capability_baseline: str | None = None
    gates: GateThresholds = GateThresholds()
    functional_timeouts: FunctionalTimeouts = FunctionalTimeouts()
