"""Settings model: `configs/settings.yaml`, each value overridable by a pytest option or env var."""

from __future__ import annotations

from pydantic import Field, NonNegativeFloat

from cibench.config.base import StrictModel


class GateThresholds(StrictModel):
    """Regression and completeness thresholds (ratios: 0.10 = 10%)."""

    max_failure_ratio: NonNegativeFloat = 0.05
    max_token_mismatch_ratio: NonNegativeFloat = 0.0
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
    gates: GateThresholds = GateThresholds()
