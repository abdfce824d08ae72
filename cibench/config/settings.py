"""Settings model: `configs/settings.yaml`, each value overridable by a pytest option or env var."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat, PositiveInt, field_validator

from cibench.config.base import StrictModel

Seconds = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class FunctionalTimeouts(StrictModel):
    """How long the functional stage waits for a server (see docs/faults.md)."""

    request_seconds: Seconds = 60.0
    stage_seconds: Seconds = 600.0
    consecutive_timeouts: PositiveInt = 3
    max_retry_after_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0


class ConfirmSettings(StrictModel):
    """PR runs: re-measure once a load point whose regression verdict is not a clear pass."""

    enabled: bool = True
    budget_seconds: Seconds = 60.0
    """All re-measurements of one session (of one xdist worker) together: a point that would
    take longer than what is left is not re-measured, and the output says so."""
    baseline_scenario: str | None = None
    """A scenario (configs/scenarios/ id) serving the baseline build on this machine. When set,
    the confirm step measures the unsettled point on both builds, interleaved in `blocks`, and
    the gates decide on those blocks alone (docs/metrics.md#confirm-before-failing)."""
    blocks: int = Field(default=4, ge=2, le=64)
    """With `baseline_scenario`: the point's requests are split into up to this many blocks
    (an even number), each measured on both builds with the same prompts, in ABBA order
    (baseline, candidate, candidate, baseline, ...), so that a machine getting slower or faster
    over the minutes of the confirmation weighs on both builds alike. Fewer blocks where a
    block would hold under 4 requests per concurrent stream."""

    @field_validator("blocks")
    @classmethod
    def _whole_abba_pairs(cls, blocks: int) -> int:
        if blocks % 2:
            raise ValueError(
                "must be even: blocks run in ABBA pairs, and an odd block would measure one "
                "build before the other without its mirror"
            )
        return blocks


class GateThresholds(StrictModel):
    """Regression and completeness thresholds (ratios: 0.10 = 10%)."""

    max_failure_ratio: Ratio = 0.05
    max_token_mismatch_ratio: Ratio = 0.0
    ttft_p99_increase: NonNegativeFloat = 0.10
    e2e_p99_increase: NonNegativeFloat = 0.10
    qps_decrease: NonNegativeFloat = 0.05
    capacity_decrease: NonNegativeFloat = 0.10
    """An SLO search's answer (max concurrency or rate under the SLO) may fall this much."""
    confidence: float = Field(default=0.90, gt=0.5, lt=1.0)
    """Two-sided confidence of the bootstrap interval of each candidate/baseline ratio. A FAIL
    reads only its lower end and a PASS only its upper end, so each verdict is a one-sided
    claim at (1 + confidence) / 2: 95 % for the default 0.90."""
    bootstrap_resamples: int = Field(default=2000, ge=100, le=100_000)
    min_samples: dict[float, PositiveInt] = Field(default_factory=lambda: {90.0: 50, 99.0: 100})
    """Per gated percentile: fewer successful requests per load point mark a gate low-confidence
    (and `cibench lint` warns about the profile)."""
    history_runs: PositiveInt = 7
    """Previous daily runs (artifacts-root baseline) whose day-to-day spread may widen a margin."""
    history_k: NonNegativeFloat = 3.0
    """Margin = max(configured, history_k x robust day-to-day spread); 0 turns history off."""
    confirm: ConfirmSettings = ConfirmSettings()

    def min_samples_for(self, percentile: float) -> int:
        """The configured minimum for `percentile`, else that of the nearest lower configured
        percentile (a P95 needs at least what a P90 needs), else 0."""
        if percentile in self.min_samples:
            return self.min_samples[percentile]
        lower = [q for q in self.min_samples if q <= percentile]
        return self.min_samples[max(lower)] if lower else 0


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
    require_baseline: bool = False
    """A missing or unreadable baseline, or one lacking a load point of the run, fails the run
    (exit 6) instead of the regression gates saying `no baseline`."""
    gates: GateThresholds = GateThresholds()
    functional_timeouts: FunctionalTimeouts = FunctionalTimeouts()
