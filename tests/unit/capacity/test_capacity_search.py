"""The SLO search's bisection, driven by a known threshold instead of a server."""

from __future__ import annotations

import pytest

from cibench.capacity.search import Bisection
from cibench.config.capacity import SearchSettings


def search(threshold: float, **settings: object) -> Bisection:
    """Run a search where a load passes when it is at most `threshold`."""
    bisection = Bisection(SearchSettings.model_validate(settings))
    while (load := bisection.next_load()) is not None:
        bisection.record(load, load <= threshold)
    return bisection


def probes(bisection: Bisection) -> list[float]:
    return [step.load for step in bisection.steps]


def test_concurrency_search_doubles_then_bisects_to_the_exact_answer() -> None:
    found = search(16, start=1, max=256)
    assert probes(found) == [1, 2, 4, 8, 16, 32, 24, 20, 18, 17]
    assert (found.lower, found.upper, found.stop_reason) == (16, 17, "converged")
    assert found.converged


@pytest.mark.parametrize("threshold", [1, 2, 3, 7, 63, 64, 65, 100, 255])
def test_concurrency_search_finds_every_threshold(threshold: int) -> None:
    found = search(threshold, start=1, max=256)
    assert found.lower == threshold
    assert found.upper == threshold + 1
    assert len(found.steps) <= 2 * 9


def test_resolution_leaves_the_answer_at_most_one_step_below_the_truth() -> None:
    found = search(50, start=4, max=512, resolution=4)
    assert found.lower is not None
    assert found.upper is not None
    assert found.lower <= 50 < found.upper
    assert found.upper - found.lower <= 4


def test_rate_search_bisects_to_the_resolution() -> None:
    found = search(37.3, over="rate", start=5, max=200, resolution=0.5)
    assert found.lower is not None
    assert found.upper is not None
    assert 37.3 - 0.5 <= found.lower <= 37.3 < found.upper
    assert found.converged


def test_a_broken_start_halves_down_until_a_probe_passes() -> None:
    found = search(3, start=16, max=64)
    assert probes(found)[:4] == [16, 8, 4, 2]
    assert (found.lower, found.upper) == (3, 4)


def test_the_slo_broken_even_at_one_worker_gives_no_answer() -> None:
    found = search(0, start=4, max=64)
    assert probes(found) == [4, 2, 1]
    assert found.lower is None
    assert found.stop_reason == "SLO broken at the lowest load"
    assert not found.converged


def test_passing_at_max_stops_there() -> None:
    found = search(10_000, start=8, max=100)
    assert probes(found) == [8, 16, 32, 64, 100]
    assert (found.lower, found.stop_reason) == (100, "reached search.max")
    assert found.converged


def test_an_early_stop_keeps_the_best_answer_so_far() -> None:
    bisection = Bisection(SearchSettings(start=1, max=64))
    bisection.record(1, True)
    bisection.record(2, True)
    bisection.stop("time budget spent")
    assert bisection.next_load() is None
    assert (bisection.lower, bisection.converged) == (2, False)


def test_the_search_is_deterministic() -> None:
    assert probes(search(23, start=3, max=300)) == probes(search(23, start=3, max=300))
