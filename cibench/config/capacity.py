"""Capacity settings of a perf profile: the percentile SLO (`slo:`) and the SLO search (`search:`).

An SLO is a set of upper limits, each on one percentile of one latency, plus an optional
failure-ratio limit: `slo: {ttft_p99_s: 0.5, tpot_p99_s: 0.05, fail_rate: 0.01}`. Keys have the
form `<ttft|tpot|e2e|itl>_p<percentile>_s`; any subset may be given. `min_good_ratio` is the one
lower bound: the share of requests meeting the profile's per-request `goodput_slo`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, RootModel, field_validator

from cibench.config.base import StrictModel

__all__ = [
    "FAIL_RATE",
    "LATENCIES",
    "LOAD_AXES",
    "MIN_GOOD_RATIO",
    "LadderSettings",
    "SearchSettings",
    "Slo",
    "SloLimit",
    "SoakSettings",
]

LATENCIES = ("ttft", "tpot", "e2e", "itl")
"""Latencies an SLO may limit (the summary's distributions of the same names)."""

_KEY = re.compile(r"^(?P<metric>ttft|tpot|e2e|itl)_p(?P<pct>\d{1,2}(?:\.\d+)?)_s$")
FAIL_RATE = "fail_rate"
MIN_GOOD_RATIO = "min_good_ratio"
"""The goodput limit: at least this share of the requests met the profile's `goodput_slo`."""
LOAD_AXES = ("concurrency", "rate", "input_length", "output_length")
"""What a search or ladder may step over (`Search_Over`)."""


@dataclass(frozen=True, slots=True)
class SloLimit:
    """One limit: `metric` (a latency, or `fail_rate`) at `percentile` must stay <= `limit`;
    `min_good_ratio` must stay >= `limit` (`minimum`)."""

    key: str
    metric: str
    percentile: float | None
    limit: float

    @property
    def minimum(self) -> bool:
        """True for a lower bound (`min_good_ratio`), False for the upper limits."""
        return self.metric == MIN_GOOD_RATIO


class Slo(RootModel[dict[str, float]]):
    """Percentile limits keyed `<latency>_p<pct>_s` (seconds) and/or `fail_rate` (0-1)."""

    model_config = {"frozen": True}

    @field_validator("root")
    @classmethod
    def _known_keys(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("an SLO needs at least one limit, e.g. {tpot_p99_s: 0.05}")
        for key, limit in value.items():
            if key == FAIL_RATE:
                if not 0.0 <= limit < 1.0:
                    raise ValueError(f"'fail_rate' must lie in [0, 1), got {limit}")
                continue
            if key == MIN_GOOD_RATIO:
                if not 0.0 < limit <= 1.0:
                    raise ValueError(f"'min_good_ratio' must lie in (0, 1], got {limit}")
                continue
            match = _KEY.match(key)
            if match is None or not 0 < float(match["pct"]) < 100:
                raise ValueError(
                    f"unknown SLO key {key!r}: use '<ttft|tpot|e2e|itl>_p<1-99>_s' "
                    "(e.g. ttft_p99_s), 'fail_rate' or 'min_good_ratio'"
                )
            if limit <= 0:
                raise ValueError(f"SLO limit {key} must be > 0 seconds, got {limit}")
        return value

    def limits(self) -> list[SloLimit]:
        """The limits in a stable order (as written in the file)."""
        found: list[SloLimit] = []
        for key, limit in self.root.items():
            match = _KEY.match(key)
            if match is None:
                found.append(SloLimit(key, key, None, limit))  # fail_rate, min_good_ratio
            else:
                found.append(SloLimit(key, match["metric"], float(match["pct"]), limit))
        return found

    def percentiles(self) -> list[float]:
        """Percentiles the summary must compute for these limits."""
        return sorted({limit.percentile for limit in self.limits() if limit.percentile})

    def describe(self) -> str:
        """`ttft_p99_s=0.5,tpot_p99_s=0.05`: keys sorted, a metric label value."""
        return ",".join(f"{key}={self.root[key]:g}" for key in sorted(self.root))

    def digest(self) -> str:
        """A short stable hash of `describe()`, for file names and as a compact label."""
        return hashlib.sha256(self.describe().encode()).hexdigest()[:8]


class SearchSettings(StrictModel):
    """How `control_method: search` looks for the largest load that keeps the SLO.

    Starting at `start`, the load doubles until a probe breaks the SLO (or `max` passes), then
    the bracket [last pass, first break] is bisected until it is at most `resolution` wide.
    """

    over: Literal["concurrency", "rate"] = "concurrency"
    """`concurrency`: closed loop (workers); `rate`: open loop (Poisson, requests/s)."""
    start: PositiveFloat = 1.0
    max: PositiveFloat = 1024.0
    resolution: PositiveFloat = 1.0
    """Stop bisecting when the bracket is this narrow (workers, or requests/s)."""
    max_probes: PositiveInt = 16
    time_budget_seconds: PositiveFloat = 600.0
    """No new probe starts after this long (the running one finishes)."""
    requests_per_probe: PositiveInt | None = Field(default=None)
    """Measured requests per probe; default: `num_requests_per_concurrency` x concurrency
    (closed loop) or rate x `duration_seconds` (open loop)."""

    def check(self) -> list[str]:
        """Cross-field problems (returned, so the profile validator can word them)."""
        problems: list[str] = []
        if self.start > self.max:
            problems.append(
                f"search.start ({self.start:g}) must not exceed search.max ({self.max:g})"
            )
        if self.over == "concurrency":
            for name in ("start", "max", "resolution"):
                value = getattr(self, name)
                if value != int(value):
                    problems.append(f"search.{name} must be a whole number for over: concurrency")
        return problems


class LadderSettings(StrictModel):
    """`control_method: ladder`: step the load (or a token length) through `steps`, holding
    each, and stop after the first step that breaks the SLO or fails."""

    over: Literal["rate", "concurrency", "input_length", "output_length"] = "rate"
    """`rate`: open loop (Poisson) at each step's requests/s; `concurrency`: closed loop;
    `input_length` / `output_length`: token lengths at the profile's fixed load."""
    steps: list[PositiveFloat] = Field(min_length=1)
    hold_seconds: PositiveFloat | None = None
    """Open-loop steps send `ceil(rate x hold_seconds)` requests (default: `duration_seconds`)."""
    stop_on_break: bool = True
    """Stop after the first step that breaks the SLO or the failure ratio."""

    def check(self) -> list[str]:
        """Cross-field problems."""
        problems: list[str] = []
        if self.steps != sorted(self.steps):
            problems.append("ladder.steps must be in increasing order")
        if self.over != "rate" and any(step != int(step) for step in self.steps):
            problems.append(f"ladder.steps must be whole numbers for over: {self.over}")
        return problems


class SoakSettings(StrictModel):
    """`control_method: soak`: steady load for `duration_seconds`, measured in windows, with
    drift detection between the first and the last window (and the trend over all)."""

    duration_seconds: PositiveFloat
    window_seconds: PositiveFloat = 60.0
    """Open loop: each window sends `ceil(rate x window_seconds)` requests."""
    requests_per_window: PositiveInt | None = None
    """Closed loop: requests per window (default `num_requests_per_concurrency` x concurrency)."""
    drift_threshold: float = Field(default=0.2, gt=0.0)
    """Relative change first -> last window (in the bad direction) that counts as drift."""
    failure_ratio_drift: float = Field(default=0.01, gt=0.0, le=1.0)
    """Absolute rise of the failure ratio that counts as drift."""
