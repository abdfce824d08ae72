"""Judge one load point's summary against a percentile SLO (pure: no clock, file or network)."""

from __future__ import annotations

from dataclasses import dataclass

from cibench.config.capacity import FAIL_RATE, Slo, SloLimit
from cibench.perf.stats import Distribution, LoadPointSummary

__all__ = ["Breach", "breaches", "measured"]


@dataclass(frozen=True, slots=True)
class Breach:
    """A limit the load point did not keep; `value` None means there was nothing to measure."""

    key: str
    value: float | None
    limit: float

    def describe(self) -> str:
        """`tpot_p99_s 0.0361 > 0.035`, or `ttft_p99_s no data (limit 0.5)`."""
        if self.value is None:
            return f"{self.key} no data (limit {self.limit:g})"
        return f"{self.key} {self.value:.4g} > {self.limit:g}"


def measured(summary: LoadPointSummary, limit: SloLimit) -> float | None:
    """The summary's value for one limit: a latency percentile (s) or the failure ratio."""
    if limit.metric == FAIL_RATE:
        return summary.failure_ratio
    dist: Distribution | None = getattr(summary, limit.metric)
    if dist is None or limit.percentile is None:
        return None
    return dist.at(limit.percentile)


def breaches(summary: LoadPointSummary, slo: Slo) -> list[Breach]:
    """Every limit of `slo` the summary breaks; empty means the SLO held.

    A latency that could not be measured (no successful request) breaks its limit: a load at
    which nothing succeeds never counts as within the SLO.
    """
    found: list[Breach] = []
    for limit in slo.limits():
        value = measured(summary, limit)
        if value is None or value > limit.limit:
            found.append(Breach(limit.key, value, limit.limit))
    return found
