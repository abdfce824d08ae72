"""Schedules: climb steps, seeded Poisson arrivals, and what each profile turns into."""

from __future__ import annotations

import itertools
import statistics

import pytest

from cibench.config.perf import PerfProfile
from cibench.perf.schedule import (
    Schedule,
    active_workers,
    climb_offsets,
    constant_offsets,
    fixed_offsets,
    gamma_offsets,
    poisson_offsets,
    schedule_for,
    warmup_schedule,
)


def test_fixed_starts_every_worker_at_once() -> None:
    assert fixed_offsets(3) == [0.0, 0.0, 0.0]


def test_climb_adds_growth_rate_workers_every_interval() -> None:
    offsets = climb_offsets(2, growth_rate=3, growth_interval_ms=500, concurrency=9)
    assert offsets == [0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.5]
    assert [active_workers(offsets, t) for t in (0.0, 0.49, 0.5, 1.2, 2.0)] == [2, 2, 5, 8, 9]


def test_climb_with_init_equal_to_concurrency_does_not_climb() -> None:
    assert climb_offsets(4, 1, 1000, 4) == [0.0] * 4


@pytest.mark.parametrize(
    ("init", "growth", "concurrency", "message"),
    [(0, 1, 4, "init_concurrency"), (5, 1, 4, "init_concurrency"), (1, 0, 4, "growth_rate")],
)
def test_climb_rejects_impossible_parameters(
    init: int, growth: int, concurrency: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        climb_offsets(init, growth, 1000, concurrency)


def test_poisson_is_seeded_and_starts_at_zero() -> None:
    first = poisson_offsets(100, 50.0, seed=7)
    assert first == poisson_offsets(100, 50.0, seed=7)
    assert first != poisson_offsets(100, 50.0, seed=8)
    assert first[0] == 0.0
    assert first == sorted(first)


def test_poisson_mean_rate_is_exactly_the_requested_one() -> None:
    offsets = poisson_offsets(1000, 50.0, seed=1)
    assert (len(offsets) - 1) / offsets[-1] == pytest.approx(50.0)


def test_poisson_gaps_look_exponential() -> None:
    offsets = poisson_offsets(5000, 100.0, seed=3)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    # for an exponential distribution the standard deviation equals the mean
    assert statistics.pstdev(gaps) == pytest.approx(statistics.mean(gaps), rel=0.1)


def test_a_single_poisson_request_is_due_at_once() -> None:
    assert poisson_offsets(1, 10.0, seed=0) == [0.0]


def profile(**fields: object) -> PerfProfile:
    return PerfProfile.model_validate({"input_length": [16], "output_length": [8], **fields})


def test_schedule_for_each_control_method() -> None:
    fixed = profile(concurrency=[3])
    assert schedule_for(fixed, fixed.load_points()[0]).worker_offsets == (0.0, 0.0, 0.0)

    climb = profile(
        control_method="climb",
        concurrency=[4],
        init_concurrency=2,
        growth_rate=1,
        growth_interval_ms=100,
    )
    assert schedule_for(climb, climb.load_points()[0]).worker_offsets == (0.0, 0.0, 0.1, 0.2)

    poisson = profile(control_method="poisson", request_rate=[20.0], num_requests=10)
    point = poisson.load_points()[0]
    schedule = schedule_for(poisson, point, epoch=0)
    assert schedule.open_loop
    assert schedule.cap == 0  # no concurrency given: no cap
    assert len(schedule.arrival_offsets) == 10
    assert schedule_for(poisson, point, epoch=1).arrival_offsets != schedule.arrival_offsets


def test_poisson_concurrency_is_a_cap() -> None:
    capped = profile(control_method="poisson", request_rate=[5.0], concurrency=[8])
    assert schedule_for(capped, capped.load_points()[0]).cap == 8


def test_warmup_runs_closed_loop_within_the_points_concurrency() -> None:
    wide = profile(concurrency=[16], warmup=4)
    assert warmup_schedule(wide, wide.load_points()[0]).worker_offsets == (0.0,) * 4
    narrow = profile(concurrency=[2], warmup=4)
    assert len(warmup_schedule(narrow, narrow.load_points()[0]).worker_offsets) == 2


@pytest.mark.parametrize(
    ("schedule", "requests", "expected"),
    [
        (Schedule(worker_offsets=(0.0, 0.0, 0.5)), 10, 3),  # closed loop: one per worker
        (Schedule(worker_offsets=(0.0,) * 8), 5, 5),  # never more than there are requests
        (Schedule(arrival_offsets=(0.0, 0.1), cap=4), 100, 4),  # open loop: the cap
        (Schedule(arrival_offsets=(0.0, 0.1)), 100, 16),  # uncapped: the caller's default
    ],
)
def test_connections_opened_before_the_clock_starts(
    schedule: Schedule, requests: int, expected: int
) -> None:
    assert schedule.connections_to_open(requests, uncapped=16) == expected


def test_constant_arrivals_are_evenly_spaced() -> None:
    assert constant_offsets(5, 4.0) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_gamma_arrivals_keep_the_rate_and_burstiness_sets_the_spread() -> None:
    def gaps_cv(burstiness: float) -> float:
        offsets = gamma_offsets(2001, 100.0, burstiness, seed="s")
        gaps = [b - a for a, b in itertools.pairwise(offsets)]
        return statistics.pstdev(gaps) / statistics.mean(gaps)

    offsets = gamma_offsets(2001, 100.0, 0.25, seed="s")
    assert offsets[0] == 0.0
    assert offsets[-1] == pytest.approx(20.0)  # exactly (N - 1) / rate
    assert offsets == gamma_offsets(2001, 100.0, 0.25, seed="s")  # seeded
    # gamma gaps have a coefficient of variation of 1 / sqrt(shape): 2, 1 (poisson), 0.5
    assert gaps_cv(0.25) == pytest.approx(2.0, rel=0.15)
    assert gaps_cv(1.0) == pytest.approx(1.0, rel=0.1)
    assert gaps_cv(4.0) == pytest.approx(0.5, rel=0.1)


def test_profile_arrival_picks_the_open_loop_offsets() -> None:
    base = {"control_method": "poisson", "request_rate": [10], "num_requests": 5}
    constant = PerfProfile.model_validate({**base, "input_length": [8], "output_length": [8],
                                           "arrival": "constant"})  # fmt: skip
    point = constant.load_points()[0]
    assert schedule_for(constant, point).arrival_offsets == (0.0, 0.1, 0.2, 0.3, 0.4)
    bursty = constant.model_copy(update={"arrival": "gamma", "burstiness": 0.5})
    assert schedule_for(bursty, point).arrival_offsets[-1] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="'burstiness' only shapes 'arrival: gamma'"):
        PerfProfile.model_validate({**base, "input_length": [8], "output_length": [8],
                                    "burstiness": 0.5})  # fmt: skip
