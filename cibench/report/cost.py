"""Cost and energy per million tokens, and the best load point under an SLO (pure arithmetic).

Throughput is what the whole machine delivered at a load point, so cost per token is the
hourly price spread over the tokens of one hour at that rate:
`cost per 1M = price_per_hour / (tokens_per_s * 3600) * 1e6`, and energy likewise
`kWh per 1M = power_watts * (1e6 / tokens_per_s) / 3.6e6`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0
JOULES_PER_KWH = 3.6e6
MILLION = 1e6


def cost_per_million(price_per_hour: float, tokens_per_s: float | None) -> float | None:
    """Currency per 1M tokens at `tokens_per_s`; None without a positive throughput."""
    if tokens_per_s is None or tokens_per_s <= 0:
        return None
    return price_per_hour / (tokens_per_s * SECONDS_PER_HOUR) * MILLION


def energy_kwh_per_million(power_watts: float | None, tokens_per_s: float | None) -> float | None:
    """kWh per 1M tokens at `tokens_per_s` drawing `power_watts`; None when either is unknown."""
    if power_watts is None or tokens_per_s is None or tokens_per_s <= 0:
        return None
    return power_watts * (MILLION / tokens_per_s) / JOULES_PER_KWH


@dataclass(frozen=True, slots=True)
class Slo:
    """Percentile limits a load point must meet to count (None = no limit)."""

    ttft_p99_s: float | None = None
    tpot_p99_s: float | None = None
    max_fail_rate: float = 0.05

    def describe(self) -> str:
        """`TTFT P99 <= 0.5 s, fail rate <= 5%`."""
        parts = []
        if self.ttft_p99_s is not None:
            parts.append(f"TTFT P99 <= {self.ttft_p99_s:g} s")
        if self.tpot_p99_s is not None:
            parts.append(f"TPOT P99 <= {self.tpot_p99_s:g} s")
        parts.append(f"fail rate <= {self.max_fail_rate:.0%}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class PointFigures:
    """The numbers of one load point that the SLO and the cost need."""

    label: str
    output_tokens_per_s: float | None
    ttft_p99_s: float | None
    tpot_p99_s: float | None
    fail_rate: float | None


def meets(point: PointFigures, slo: Slo) -> bool:
    """Whether the point has a throughput and meets every limit (missing data does not)."""
    if point.output_tokens_per_s is None or point.fail_rate is None:
        return False
    if point.fail_rate > slo.max_fail_rate:
        return False
    for limit, value in ((slo.ttft_p99_s, point.ttft_p99_s), (slo.tpot_p99_s, point.tpot_p99_s)):
        if limit is not None and (value is None or value > limit):
            return False
    return True


def best_under_slo(points: Sequence[PointFigures], slo: Slo) -> PointFigures | None:
    """The point with the highest output throughput among those meeting the SLO, or None."""
    eligible = [p for p in points if meets(p, slo)]
    return max(eligible, key=lambda p: p.output_tokens_per_s or 0.0, default=None)
