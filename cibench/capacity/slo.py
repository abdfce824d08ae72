"""Judge one load point's summary against a percentile SLO (pure: no clock, file or network)."""

from __future__ import annotations

from dataclasses import dataclass

from cibench.config.capacity import FAIL_RATE, MIN_GOOD_RATIO, Slo, SloLimit
from cibench.perf.stats import Distribution, LoadPointSummary

__all__ = ["Breach", "breaches", "measured"]


@dataclass(frozen=True, slots=True)
class Breach:
    """A limit the load point did not keep; `value` None means there was nothing to measure."""

    key: str
    value: float | None
    limit: float
    minimum: bool = False
    """The value fell below a lower bound (`min_good_ratio`) rather than above a limit."""

    def describe(self) -> str:
        """`tpot_p99_s 0.0361 > 0.035`, `min_good_ratio 0.9 < 0.95`, or `ttft_p99_s no data
        (limit 0.5)`."""
        if self.value is None:
            return f"{self.key} no data (limit {self.limit:g})"
        return f"{self.key} {self.value:.4g} {'<' if self.minimum else '>'} {self.limit:g}"


def measured(
    summary: LoadPointSummary, limit: SloLimit, good_requests: int | None = None
) -> float | None:
    """The summary's value for one limit: a latency percentile (s), the failure ratio, or the
    share of requests that met the goodput SLO (`good_requests` of the summary's requests)."""
    if limit.metric == FAIL_RATE:
        return summary.failure_ratio
    if limit.metric == MIN_GOOD_RATIO:
        if good_requests is None or not summary.requests:
            return None
        return good_requests / summary.requests
    dist: Distribution | None = getattr(summary, limit.metric)
    if dist is None or limit.percentile is None:
        return None
    return dist.at(limit.percentile)


def breaches(summary: LoadPointSummary, slo: Slo, good_requests: int | None = None) -> list[Breach]:
    """Every limit of `slo` the summary breaks; empty means the SLO held.

    A latency that could not be measured (no successful request) breaks its limit: a load at
    which nothing succeeds never counts as within the SLO. `good_requests` (requests meeting
    the profile's `goodput_slo`) is needed for a `min_good_ratio` limit.
    """
    found: list[Breach] = []
    for limit in slo.limits():
        value = measured(summary, limit, good_requests)
        broken = value is None or (value < limit.limit if limit.minimum else value > limit.limit)
        if broken:
            found.append(Breach(limit.key, value, limit.limit, limit.minimum))
    return found
