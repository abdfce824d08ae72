"""The harness-health verdict of one load point: could the client, not the server, be the limit?

Four checks from first principles, each against its own threshold (pure arithmetic over the
measured records, the schedules and the receive-lag probe's samples):

1. **Schedule adherence**: each request's lateness = actual send − planned send. The planned
   send is the schedule's time; only a deliberate concurrency limit (a closed-loop worker
   busy with its previous request, an open-loop in-flight cap) may move it later, to the
   moment the worker or slot became free. Everything else (thread start-up, a queue in front
   of the workers, the GIL, a late timer) counts. Breach: p99 > `max_send_lag_s`.
2. **Receive lag**: how late code that was ready to run actually ran (`perf/probe.py`), the
   delay every response timestamp also suffers. Breach: p99 > `max_receive_lag_s`.
3. **Completion span vs schedule span** (open loop): from the first planned send to the last
   response end must fit in the schedule span (+ `completion_tolerance`) plus the p99 request
   time of the epoch's first half. Steady service needs no more; a backlog (completions not
   keeping pace with arrivals) does. Not judged when requests waited for an in-flight cap
   (the cap stretches the run on purpose).
4. **Achieved vs target rate** (open loop): (sent − 1) / send span must reach
   `(1 − rate_tolerance)` × target, unless requests waited for an in-flight cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cibench.client.record import RequestRecord
from cibench.perf.stats import NS, percentile

__all__ = ["Completion", "Health", "HealthLimits", "assess", "completion_check"]


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """Thresholds of the four checks (seconds, or fractions of the target)."""

    max_send_lag_s: float = 0.025
    max_receive_lag_s: float = 0.025
    rate_tolerance: float = 0.05
    completion_tolerance: float = 0.10


@dataclass(frozen=True, slots=True)
class Health:
    """What the four checks measured, and why the point is harness-bound (empty: it is not)."""

    lateness_p99_s: float | None = None
    lateness_max_s: float | None = None
    receive_lag_p99_s: float | None = None
    receive_lag_max_s: float | None = None
    schedule_span_s: float | None = None
    completion_span_s: float | None = None
    completion_allowance_s: float | None = None
    target_rate: float | None = None
    achieved_rate: float | None = None
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    @property
    def harness_bound(self) -> bool:
        """True when any check breached its threshold."""
        return bool(self.reasons)


@dataclass(frozen=True, slots=True)
class Completion:
    """One epoch's completion span, the span its schedule allows, and the schedule span."""

    schedule_span_s: float
    completion_span_s: float
    allowance_s: float

    @property
    def overrun_s(self) -> float:
        """How far the completions ran past the allowance (negative: within it)."""
        return self.completion_span_s - self.allowance_s


def completion_check(
    records: Sequence[RequestRecord], schedule_span_s: float, tolerance: float
) -> Completion | None:
    """The completion span of one open-loop epoch against its schedule (None: no records).

    Allowance = schedule span x (1 + `tolerance`) + the p99 request time (send to response
    end) of the requests planned in the first half of the schedule.
    """
    if not records:
        return None
    origin = min(r.scheduled_ns for r in records)
    completion = (max(r.end_ns for r in records) - origin) / NS
    half = origin + schedule_span_s * NS / 2
    early = [(r.end_ns - r.start_ns) / NS for r in records if r.scheduled_ns <= half]
    service = percentile(early, 99.0) or 0.0
    return Completion(schedule_span_s, completion, schedule_span_s * (1 + tolerance) + service)


def _achieved_rate(records: Sequence[RequestRecord]) -> float | None:
    starts = sorted(r.start_ns for r in records)
    if len(starts) < 2 or starts[-1] <= starts[0]:
        return None
    return (len(starts) - 1) / ((starts[-1] - starts[0]) / NS)


def assess(
    records: Sequence[RequestRecord],
    receive_lags_s: Sequence[float],
    limits: HealthLimits,
    schedule_spans_s: Mapping[int, float] | None = None,
    target_rate: float | None = None,
    paced: Sequence[RequestRecord] | None = None,
) -> Health:
    """Judge one load point's measured records.

    :param receive_lags_s: probe samples taken while the measured phases ran.
    :param schedule_spans_s: open loop only: epoch -> planned span of its arrivals (seconds).
    :param target_rate: open loop only: the requested rate in req/s.
    :param paced: the records the arrival schedule itself paced, for the completion and rate
        checks (default: all; multi-turn sessions: each conversation's first turn).
    """
    paced = records if paced is None else paced
    reasons: list[str] = []
    codes: list[str] = []
    lateness = [r.send_lag_ns / NS for r in records]
    late_p99 = percentile(lateness, 99.0)
    if late_p99 is not None and late_p99 > limits.max_send_lag_s:
        codes.append("late-sends")
        reasons.append(
            f"sends left late: lateness p99 {late_p99 * 1e3:.1f} ms (max "
            f"{max(lateness) * 1e3:.1f} ms) > {limits.max_send_lag_s * 1e3:g} ms after their "
            "planned time, so the load was not the one asked for"
        )
    lag_p99 = percentile(receive_lags_s, 99.0)
    if lag_p99 is not None and lag_p99 > limits.max_receive_lag_s:
        codes.append("receive-lag")
        reasons.append(
            f"receive lag p99 {lag_p99 * 1e3:.1f} ms (max {max(receive_lags_s) * 1e3:.1f} ms) > "
            f"{limits.max_receive_lag_s * 1e3:g} ms: the client process was too busy to read "
            "responses on time, so latencies include its own delay"
        )
    capped = any(r.client_queue_ns > 0 for r in paced)
    worst: Completion | None = None
    for epoch, span in sorted((schedule_spans_s or {}).items()):
        epoch_records = [r for r in paced if r.epoch == epoch]
        checked = completion_check(epoch_records, span, limits.completion_tolerance)
        if checked is not None and (worst is None or checked.overrun_s > worst.overrun_s):
            worst = checked
    if worst is not None and worst.overrun_s > 0 and not capped:
        codes.append("completions-behind")
        reasons.append(
            f"completions did not keep pace: the {worst.schedule_span_s:.2f} s schedule took "
            f"{worst.completion_span_s:.2f} s to complete (allowed "
            f"{worst.allowance_s:.2f} s); the client's receive side or the server fell behind"
        )
    achieved = _achieved_rate(paced) if target_rate is not None else None
    if (
        target_rate is not None
        and achieved is not None
        and achieved < target_rate * (1.0 - limits.rate_tolerance)
        and not capped
    ):
        codes.append("rate-short")
        reasons.append(
            f"achieved rate {achieved:.2f} req/s < {target_rate:g} req/s − "
            f"{limits.rate_tolerance:.0%}: the harness could not keep the schedule"
        )
    return Health(
        lateness_p99_s=late_p99,
        lateness_max_s=max(lateness) if lateness else None,
        receive_lag_p99_s=lag_p99,
        receive_lag_max_s=max(receive_lags_s) if receive_lags_s else None,
        schedule_span_s=worst.schedule_span_s if worst else None,
        completion_span_s=worst.completion_span_s if worst else None,
        completion_allowance_s=worst.allowance_s if worst else None,
        target_rate=target_rate,
        achieved_rate=achieved,
        reasons=reasons,
        codes=codes,
    )
