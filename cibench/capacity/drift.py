"""Soak drift detection (pure): compare the first and the last window of a soak, and fit a
trend over all windows, for latency percentiles, throughput, failure ratio and server memory.

A metric drifts when its change from the first to the last window, in its bad direction
(latency, failures, memory up; throughput down), exceeds the threshold and the trend over every
window (a Theil-Sen line, robust to single outliers) agrees by at least half the threshold, so
one noisy last window alone does not make a verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DRIFT_METRICS", "Drift", "detect_drift", "slope"]

DRIFT_METRICS: dict[str, int] = {
    "ttft_p50_s": 1,
    "ttft_p99_s": 1,
    "tpot_p50_s": 1,
    "tpot_p99_s": 1,
    "e2e_p50_s": 1,
    "e2e_p99_s": 1,
    "output_throughput": -1,
    "failure_ratio": 1,
    "server_memory_bytes": 1,
}
"""Metric -> bad direction (+1: up is worse, -1: down is worse)."""


@dataclass(frozen=True, slots=True)
class Drift:
    """One metric over the soak: first and last window, relative change and trend, verdict."""

    metric: str
    first: float | None
    last: float | None
    change: float | None
    """Relative change first -> last (absolute for `failure_ratio`); None without data."""
    trend: float | None
    """The fitted line's change over the whole soak, relative to its start (absolute for
    `failure_ratio`)."""
    drifted: bool

    def describe(self) -> str:
        """`tpot_p50_s +85% (0.0051 -> 0.0094, trend +80%)`."""
        if self.change is None or self.first is None or self.last is None:
            return f"{self.metric} no data"
        spec = "+.3f" if self.metric == "failure_ratio" else "+.0%"
        trend = "" if self.trend is None else f", trend {self.trend:{spec}}"
        change = f"{self.change:{spec}}"
        return f"{self.metric} {change} ({self.first:.4g} -> {self.last:.4g}{trend})"


def slope(values: Sequence[float]) -> float:
    """Theil-Sen slope of `values` against their index: the median of every pairwise slope, so
    one outlying window barely moves it (0 for fewer than two values)."""
    pairs = [
        (values[j] - values[i]) / (j - i)
        for i in range(len(values))
        for j in range(i + 1, len(values))
    ]
    return statistics.median(pairs) if pairs else 0.0


def _one(
    metric: str, direction: int, values: list[float | None], threshold: float, absolute: float
) -> Drift:
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(present) < 2:
        return Drift(metric, None, None, None, None, False)
    first, last = present[0][1], present[-1][1]
    series = [v for _, v in present]
    fitted_span = slope(series) * (len(series) - 1)
    if metric == "failure_ratio":
        change, trend, limit = last - first, fitted_span, absolute
    else:
        start = series[0] if series[0] > 0 else None
        if start is None:
            return Drift(metric, first, last, None, None, False)
        change, trend, limit = last / first - 1.0, fitted_span / start, threshold
    drifted = direction * change > limit and direction * trend > limit / 2
    return Drift(metric, first, last, change, trend, drifted)


def detect_drift(
    windows: Sequence[Mapping[str, float | None]],
    threshold: float,
    failure_ratio_drift: float,
) -> list[Drift]:
    """One `Drift` per metric of `DRIFT_METRICS` over the windows, in that order."""
    return [
        _one(metric, direction, [w.get(metric) for w in windows], threshold, failure_ratio_drift)
        for metric, direction in DRIFT_METRICS.items()
    ]
