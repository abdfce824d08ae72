"""The perf runner end to end against the simulator (a real server on 127.0.0.1).

Timing checks are bounds a busy machine cannot break: a latency is never below what the
simulator is configured to take, and stays well under a generous ceiling; a schedule never
starts work early. Precise figures come from `benchmarks/harness_overhead.py`, not from here.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cibench.artifacts import PerfRequestRow, ScenarioWriter, read_requests, read_summary
from cibench.config.perf import PerfProfile
from cibench.perf.runner import RunTarget, run_point
from cibench.sim.testing import run_simulator

TTFT_S = 0.050
ITL_S = 0.010
EXACT = (
    "--prefill-base-ms", "50", "--prefill-per-token-ms", "0",
    "--itl-base-ms", "10", "--itl-per-running-seq-ms", "0", "--jitter", "0",
    "--max-num-seqs", "256",
)  # fmt: skip
BACKENDS = ["threading-pool", "asyncio"]


@pytest.fixture(scope="module")
def exact_sim() -> Iterator[str]:
    """A simulator with exactly 50 ms TTFT and 10 ms per token."""
    with run_simulator(*EXACT) as base_url:
        yield base_url


def target(base_url: str, provider: str = "sim") -> RunTarget:
    return RunTarget(base_url, "sim-model", provider, "sim-test")


def profile(**fields: object) -> PerfProfile:
    return PerfProfile.model_validate(
        {"input_length": [32], "output_length": [16], "warmup": 1, "timeout_seconds": 30, **fields}
    )


def epoch_medians(
    requests_csv: Path, value: Callable[[PerfRequestRow], float | None]
) -> list[float]:
    rows = [row for row in read_requests(requests_csv) if row.success]
    epochs = sorted({row.epoch for row in rows if row.epoch is not None})
    return [
        statistics.median(
            found for row in rows if row.epoch == epoch and (found := value(row)) is not None
        )
        for epoch in epochs
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "load",
    [
        {"concurrency": [1], "num_requests": 4},
        # 32 streams that join 2 ms apart: the simulator takes requests in one at a time, so a
        # burst of 32 simultaneous arrivals would add its own intake time (server time, not
        # harness error); spaced arrivals keep the comparison about the harness
        {
            "control_method": "climb",
            "concurrency": [32],
            "init_concurrency": 1,
            "growth_rate": 1,
            "growth_interval_ms": 2,
            "num_requests": 64,
        },
    ],
    ids=["c1", "c32"],
)
def test_medians_match_the_simulators_configured_latencies(
    exact_sim: str, tmp_path: Path, backend: str, load: dict[str, object]
) -> None:
    chosen = profile(backend=backend, epochs=3, **load)
    outcome = run_point(
        target(exact_sim), chosen, chosen.load_points()[0], ScenarioWriter(tmp_path)
    )
    assert outcome.summary.failures == 0, outcome.summary.errors
    ttft = statistics.median(epoch_medians(outcome.requests_csv, lambda row: row.ttft_s))
    tpot = statistics.median(epoch_medians(outcome.requests_csv, lambda row: row.tpot_s))
    # the server cannot answer faster than configured; a busy host only adds time
    assert TTFT_S * 0.98 <= ttft < TTFT_S + 0.25
    assert ITL_S * 0.9 <= tpot < ITL_S * 5
    completions = {row.completion_tokens for row in read_requests(outcome.requests_csv)}
    assert completions == {16}
    assert outcome.summary.token_mismatch == 0
    assert outcome.sizing == "tokenize"
    assert outcome.summary.avg_prompt_tokens == pytest.approx(32, abs=chosen.input_tolerance)


@pytest.mark.parametrize("backend", BACKENDS)
def test_climb_adds_growth_rate_streams_every_interval(tmp_path: Path, backend: str) -> None:
    # each request streams for ~0.5 s, so a worker that joined stays busy until the end
    with run_simulator("--prefill-base-ms", "5", "--itl-base-ms", "10", "--jitter", "0") as url:
        chosen = profile(
            backend=backend,
            control_method="climb",
            concurrency=[7],
            init_concurrency=1,
            growth_rate=2,
            growth_interval_ms=200,
            num_requests=14,
            output_length=[48],
        )
        outcome = run_point(target(url), chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    assert outcome.summary.failures == 0
    rows = read_requests(outcome.requests_csv)
    first_start: dict[int, float] = {}
    for row in sorted(rows, key=lambda row: row.start_time or 0.0):
        if row.worker is not None and row.start_time is not None:
            # start times are offsets from the first scheduled send
            first_start.setdefault(row.worker, row.start_time)
    # 1 worker, then +2 per 200 ms up to the ceiling of 7; a busy host may start a worker
    # late, never early
    assert sorted(first_start) == list(range(7))
    for worker, started in first_start.items():
        assert started >= 0.2 * ((worker + 1) // 2) - 0.01, (worker, started)


def test_poisson_rate_is_kept_within_two_percent_for_20_seconds(tmp_path: Path) -> None:
    """50 req/s for 20 s (the slowest test of the perf suite: ~21 s)."""
    with run_simulator("--prefill-base-ms", "2", "--itl-base-ms", "1") as url:
        chosen = profile(
            backend="asyncio",
            control_method="poisson",
            request_rate=[50.0],
            duration_seconds=20.0,
            output_length=[4],
        )
        point = chosen.load_points()[0]
        assert point.num_requests == 1000
        outcome = run_point(target(url), chosen, point, ScenarioWriter(tmp_path))
    summary = outcome.summary
    assert summary.failures == 0
    # the rate is kept, or (on a starved host) the harness says it was the bottleneck
    if not outcome.health.codes:
        assert summary.achieved_rate == pytest.approx(50.0, rel=0.02)
    else:
        assert outcome.health.harness_bound


def test_poisson_on_threads_keeps_the_rate_too(tmp_path: Path) -> None:
    with run_simulator("--prefill-base-ms", "2", "--itl-base-ms", "1") as url:
        chosen = profile(
            backend="threading-pool",
            control_method="poisson",
            request_rate=[50.0],
            duration_seconds=3.0,
            output_length=[4],
        )
        outcome = run_point(target(url), chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    assert outcome.summary.failures == 0
    if not outcome.health.codes:  # else the harness said it could not keep the rate
        assert outcome.summary.achieved_rate == pytest.approx(50.0, rel=0.02)


def test_a_server_killed_mid_run_leaves_earlier_points_on_disk(tmp_path: Path) -> None:
    chosen = profile(concurrency=[2, 3, 4], num_requests=4, output_length=[8], timeout_seconds=5)
    points = chosen.load_points()
    # 5 requests of ~90 ms per point (1 warmup + 4); the simulator exits 50 ms after the 7th
    # completes, while the 4th request of point 2 is streaming
    crashing = ("--prefill-base-ms", "5", "--itl-base-ms", "10", "--crash-after", "7")
    with run_simulator(*crashing) as url:
        outcomes = [
            run_point(target(url), chosen, point, ScenarioWriter(tmp_path)) for point in points
        ]
    ratios = [outcome.summary.failure_ratio for outcome in outcomes]
    assert ratios[0] == 0.0
    assert ratios[1] is not None
    assert ratios[1] > 0.0
    assert ratios[2] == 1.0
    assert outcomes[2].problems(chosen.max_failure_ratio)[0].startswith("failure ratio 100.0%")
    assert "ConnectError" in outcomes[2].summary.errors
    rows = read_summary(outcomes[0].summary_csv)
    assert [row.concurrency for row in rows] == [2, 3, 4]
    assert [row.fail_rate for row in rows][::2] == [0.0, 1.0]
    assert rows[2].ttft.p50 is None
    assert all(outcome.requests_csv.exists() for outcome in outcomes)


def test_points_finishing_in_the_same_second_keep_their_own_requests_file(
    exact_sim: str, tmp_path: Path
) -> None:
    quick = profile(num_requests=1, output_length=[2], warmup=0)
    point = quick.load_points()[0]
    first = run_point(target(exact_sim), quick, point, ScenarioWriter(tmp_path))
    second = run_point(target(exact_sim), quick, point, ScenarioWriter(tmp_path))
    assert first.requests_csv != second.requests_csv
    assert len(list((tmp_path / "perf").glob("requests_*.csv"))) == 2
    assert len(read_summary(first.summary_csv)) == 2
