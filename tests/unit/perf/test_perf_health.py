"""The harness-health verdict: each check against hand-made records, one breach at a time."""

from __future__ import annotations

import pytest

from cibench.client.record import RequestRecord
from cibench.perf.health import HealthLimits, assess, completion_check

MS = 1_000_000
LIMITS = HealthLimits(
    max_send_lag_s=0.010, max_receive_lag_s=0.010, rate_tolerance=0.05, completion_tolerance=0.1
)


def sent(
    planned_ms: float,
    late_ms: float = 0.0,
    took_ms: float = 20.0,
    *,
    ready_ms: float | None = None,
    epoch: int = 0,
) -> RequestRecord:
    """A successful request planned at `planned_ms`, sent `late_ms` after it could be."""
    ready = planned_ms if ready_ms is None else ready_ms
    start = ready + late_ms
    return RequestRecord(
        index=0,
        epoch=epoch,
        scheduled_ns=int(planned_ms * MS),
        ready_ns=int(ready * MS),
        start_ns=int(start * MS),
        end_ns=int((start + took_ms) * MS),
        token_ns=[int((start + 5) * MS)],
        success=True,
    )


def open_loop(count: int = 11, gap_ms: float = 100.0, **kwargs: float) -> list[RequestRecord]:
    return [sent(i * gap_ms, **kwargs) for i in range(count)]


def test_a_punctual_open_loop_is_healthy() -> None:
    health = assess(open_loop(), [0.0005] * 50, LIMITS, {0: 1.0}, target_rate=10.0)
    assert health.reasons == []
    assert not health.harness_bound
    assert health.achieved_rate == 10.0
    assert health.schedule_span_s == 1.0
    assert health.completion_span_s == pytest.approx(1.02)


def test_late_sends_breach_schedule_adherence() -> None:
    records = open_loop(late_ms=30.0)
    health = assess(records, [], LIMITS, {0: 1.0}, target_rate=10.0)
    assert health.codes == ["late-sends"]
    assert health.lateness_p99_s == pytest.approx(0.030)
    assert "lateness p99 30.0 ms" in health.reasons[0]


def test_a_wait_for_the_in_flight_cap_is_not_lateness() -> None:
    # planned at 0, the cap freed a slot at 500 ms, sent 1 ms after: 1 ms late, not 501
    records = [sent(0.0), sent(100.0, late_ms=1.0, ready_ms=500.0)]
    assert assess(records, [], LIMITS).codes == []


def test_receive_lag_breaches_on_its_p99() -> None:
    lags = [0.0005] * 95 + [0.050] * 5
    health = assess(open_loop(), lags, LIMITS, {0: 1.0}, target_rate=10.0)
    assert health.codes == ["receive-lag"]
    assert health.receive_lag_max_s == 0.050


def test_completions_behind_the_schedule_breach_the_span_check() -> None:
    # a backlog: each request takes 300 ms longer than the one before
    records = [sent(i * 100.0, took_ms=20.0 + 300.0 * i) for i in range(11)]
    health = assess(records, [], LIMITS, {0: 1.0}, target_rate=10.0)
    assert health.codes == ["completions-behind"]
    assert health.completion_span_s == pytest.approx(4.02)
    # allowance: 1 s x 1.1 + p99 of the first half's request times (20..1520 ms)
    early = completion_check(records, 1.0, 0.1)
    assert early is not None
    assert early.allowance_s == pytest.approx(1.1 + 1.505)


def test_steady_but_slow_service_keeps_pace() -> None:
    records = [sent(i * 100.0, took_ms=5000.0) for i in range(11)]
    assert assess(records, [], LIMITS, {0: 1.0}, target_rate=10.0).codes == []


def test_a_rate_shortfall_without_a_cap_breaches_the_rate_check() -> None:
    # the schedule asked for 10 req/s, the sends went out every 200 ms (each one on time
    # against its own recorded plan: the shortfall alone must be caught)
    records = open_loop(gap_ms=200.0)
    health = assess(records, [], LIMITS, target_rate=10.0)
    assert health.codes == ["rate-short"]
    assert health.achieved_rate == 5.0


def test_the_cap_excuses_rate_and_span_but_not_lateness() -> None:
    records = [sent(i * 100.0, ready_ms=i * 300.0, took_ms=300.0) for i in range(11)]
    assert assess(records, [], LIMITS, {0: 1.0}, target_rate=10.0).codes == []


def test_every_breach_is_reported_together() -> None:
    records = [sent(i * 200.0, late_ms=40.0, took_ms=20.0 + 500.0 * i) for i in range(11)]
    health = assess(records, [0.1] * 10, LIMITS, {0: 1.0}, target_rate=10.0)
    assert health.codes == ["late-sends", "receive-lag", "completions-behind", "rate-short"]
    assert len(health.reasons) == 4


def test_no_records_no_verdict() -> None:
    health = assess([], [], LIMITS, {0: 1.0}, target_rate=10.0)
    assert health.codes == []
    assert health.lateness_p99_s is None
