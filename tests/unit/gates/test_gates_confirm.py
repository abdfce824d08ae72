"""Confirm before failing: an unsettled PR load point is measured once more, within a budget,
and the gates then pool both measurements' records; with the baseline build served here, the
re-measurement is an interleaved A/B test that alone decides."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from cibench.artifacts import PerfRequestRow, RunWriter, ScenarioWriter, read_run
from cibench.artifacts.writer import LoadPointFiles
from cibench.config.settings import ConfirmSettings, GateThresholds, Settings
from cibench.errors import LaunchError
from cibench.gates.baseline import with_remeasured_baseline
from cibench.gates.confirm import Confirmer, Measure, Remeasurement, abba, block_sizes
from cibench.gates.rules import evaluate
from cibench.gates.samples import balanced_blocks, load_run_samples
from tests.support.artifacts import perf_row, record_measured_point, write_session


def latencies(n: int, scale: float, seed: int, noise: float = 0.25) -> np.ndarray:
    return 0.2 * scale * np.random.default_rng(seed).lognormal(0.0, noise, n)


def record(
    writer: ScenarioWriter, scale: float, seed: int, n: int, noise: float, **fields: Any
) -> LoadPointFiles:
    """One load point of `n` successful requests, recorded as the perf stage does (`fields`:
    the point's other parameters)."""
    ttft = latencies(n, scale, seed, noise) / 4
    return record_measured_point(writer, ttft, latencies(n, scale, seed + 1, noise), **fields)


def write_run(
    run_dir: Path, scale: float, seed: int, run_type: str = "pr", n: int = 60, noise: float = 0.25
) -> LoadPointFiles:
    write_session(run_dir, {"local-sim": ["perf"]}, run_type=run_type)
    return record(RunWriter(run_dir).scenario("local-sim"), scale, seed, n, noise)


def remeasure_at(scale: float, seed: int) -> tuple[list[Path], Measure]:
    """What the perf stage passes: measure the same load point again under the directory given
    (here: 200 requests at `scale`)."""
    calls: list[Path] = []

    def remeasure(job: Remeasurement) -> object:
        calls.append(job.where)
        return record(ScenarioWriter(job.where), scale, seed, job.requests or 200, 0.25)

    return calls, remeasure


def confirmer(baseline: Path, tmp_path: Path, budget_s: float = 60.0) -> Confirmer:
    settings = Settings(gates=GateThresholds(confirm=ConfirmSettings(budget_seconds=budget_s)))
    return Confirmer(
        settings=settings,
        run_type="pr",
        source=str(baseline),
        pushgateway_url=None,
        run_dir=tmp_path / "pr",
        environ={},
    )


def test_an_unsettled_point_is_re_measured_once_and_the_gates_pool_both(tmp_path: Path) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)  # 60 noisy samples, 12 % slower
    calls, remeasure = remeasure_at(1.0, seed=3)
    confirm = confirmer(tmp_path / "base", tmp_path)

    lines = confirm.after_point("local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure)

    assert calls == [
        tmp_path / "pr" / "local-sim" / "confirm" / "fixed-threading-pool-c2-in32-out8"
    ]
    [line] = lines
    assert line.startswith("confirm fixed/threading-pool c2 in32 out8: ")
    assert "INCONCLUSIVE" in line
    assert "re-measured in" in line
    assert "pooled: ttft_p99" in line
    run = read_run(tmp_path / "pr")
    assert len(run.scenarios[0].perf) == 1  # the re-measurement is no load point of its own
    samples = load_run_samples(run)
    [pooled] = samples.values()
    assert pooled.confirmed
    assert pooled.count == 260
    verdicts = evaluate(run, confirm.baseline("local-sim"), confirm.settings.gates, samples)
    [e2e] = [v for v in verdicts if v.gate == "e2e_p99"]
    assert "re-measured: 2 measurements pooled" in e2e.detail


def test_a_clear_pass_is_not_re_measured_and_the_budget_bounds_the_rest(tmp_path: Path) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    calls, remeasure = remeasure_at(1.0, seed=3)

    tight = confirmer(tmp_path / "base", tmp_path, budget_s=1.0)
    [line] = tight.after_point("local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure)
    assert "not re-measured (the 1 s confirmation budget has 1 s left" in line
    assert calls == []

    write_run(tmp_path / "quiet", 1.0, seed=1, run_type="daily", n=400, noise=0.02)
    same = write_run(tmp_path / "same", 1.0, seed=5, n=400, noise=0.02)
    relaxed = confirmer(tmp_path / "quiet", tmp_path)
    assert (
        relaxed.after_point("local-sim", same.summary_csv, same.requests_csv, 5.0, remeasure) == []
    )
    assert calls == []


def test_nothing_is_confirmed_on_a_daily_run_or_without_a_baseline(tmp_path: Path) -> None:
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    calls, remeasure = remeasure_at(1.0, seed=3)
    base = confirmer(tmp_path / "base", tmp_path)
    for off in (
        Confirmer(base.settings, "daily", str(tmp_path / "base"), None, tmp_path / "pr"),
        Confirmer(base.settings, "pr", None, None, tmp_path / "pr"),
        Confirmer(base.settings, "pr", str(tmp_path / "base"), None, tmp_path / "pr", False),
    ):
        assert not off.active
        assert (
            off.after_point("local-sim", files.summary_csv, files.requests_csv, 1.0, remeasure)
            == []
        )
    assert calls == []


@pytest.mark.parametrize(
    ("baseline_scale", "verdict"),
    [(1.12, "pass"), (1.12 / 1.3, "fail")],
    ids=["the-machine-got-slower", "the-candidate-is-30pct-slower"],
)
def test_with_the_baseline_build_served_here_an_interleaved_ab_test_decides(
    tmp_path: Path, baseline_scale: float, verdict: str
) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)  # +12 %: but the machine got busier
    order: list[str] = []

    def on_build(build: str, scale: float, seed: int) -> Measure:
        def measure(job: Remeasurement) -> object:
            order.append(f"{build}:{job.where.name}")
            assert job.requests == 15  # the point's 60 requests in 4 blocks
            assert job.salt == f"confirm:{job.where.name}"  # same prompts on both builds
            return record(ScenarioWriter(job.where), scale, seed, 15, 0.05)

        return measure

    confirm = confirmer(tmp_path / "base", tmp_path)
    [line] = confirm.after_point(
        "local-sim",
        files.summary_csv,
        files.requests_csv,
        5.0,
        on_build("candidate", 1.12, 3),
        on_build("baseline", baseline_scale, 4),  # 1.12: the machine got slower, not the change
    )

    assert order == [
        "baseline:block-1", "candidate:block-1", "candidate:block-2", "baseline:block-2",
        "baseline:block-3", "candidate:block-3", "candidate:block-4", "baseline:block-4",
    ]  # fmt: skip
    assert "re-measured interleaved with the baseline scenario (4 blocks of 15 requests" in line
    assert "set aside" not in line
    run = read_run(tmp_path / "pr")
    recorded = confirm.baseline("local-sim")
    fresh = with_remeasured_baseline(recorded, run)
    assert recorded is not None
    assert fresh is not None
    [where] = recorded.points
    after = fresh.points[where]
    assert after.samples is not None
    assert after.samples.count == 60  # the blocks replace the recorded baseline
    samples = load_run_samples(run)
    assert samples[where].count == 60  # and the candidate's first measurement
    verdicts = evaluate(run, fresh, confirm.settings.gates, samples)
    by_gate = {v.gate: v for v in verdicts if v.gate in ("ttft_p99", "e2e_p99", "qps")}
    assert {v.status for v in by_gate.values()} == {verdict}
    e2e = by_gate["e2e_p99"]
    assert "decided on the interleaved re-measurement: 4 blocks per side, paired" in e2e.detail
    assert e2e.baseline == after.e2e_p99_s


def test_blocks_split_the_requests_and_alternate_abba() -> None:
    assert block_sizes(100, 4) == [25, 25, 25, 25]
    assert block_sizes(100, 4, concurrency=4) == [25, 25, 25, 25]
    # at c16 a block of 25 would be mostly filling and draining its streams: two of 50
    assert block_sizes(100, 4, concurrency=16) == [50, 50]
    assert block_sizes(10, 4) == [5, 5]  # under 4 requests a stream: fewer, whole pairs
    assert block_sizes(3, 4) == [2, 1]
    assert block_sizes(1, 4) == [1]
    assert abba(2) == [(0, True), (0, False), (1, False), (1, True)]


def test_only_whole_abba_pairs_of_blocks_measured_on_both_builds_count() -> None:
    assert balanced_blocks([1, 2, 3, 4], [1, 2, 3, 4]) == [1, 2, 3, 4]
    assert balanced_blocks([1, 2, 3, 4], [1, 2, 3]) == [1, 2]  # the baseline died in block 4
    assert balanced_blocks([1, 2, 3], [1, 2, 3]) == [1, 2]
    assert balanced_blocks([1], [1]) == []  # one block ran the baseline first: no verdict
    assert balanced_blocks([1, 3, 4], [1, 2, 3, 4]) == []  # a gap breaks the order


def test_blocks_must_come_in_abba_pairs() -> None:
    with pytest.raises(ValidationError, match="must be even"):
        ConfirmSettings(blocks=3)


def test_a_baseline_scenario_that_cannot_start_leaves_the_candidate_re_measured(
    tmp_path: Path,
) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    calls, remeasure = remeasure_at(1.0, seed=3)

    def broken(job: Remeasurement) -> object:
        raise LaunchError("scenario 'main-build': the server exited with status 1")

    confirm = confirmer(tmp_path / "base", tmp_path)
    [line] = confirm.after_point(
        "local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure, broken
    )

    assert "re-measured (the baseline scenario could not be measured: scenario 'main-build'" in line
    assert calls == [
        tmp_path / "pr" / "local-sim" / "confirm" / "fixed-threading-pool-c2-in32-out8"
    ]
    [pooled] = load_run_samples(read_run(tmp_path / "pr")).values()
    assert pooled.count == 260  # as without a baseline build: both measurements pooled


def test_a_baseline_build_that_failed_requests_cannot_clear_the_candidate(tmp_path: Path) -> None:
    """The baseline server died during the blocks: its failed requests must not make a 30 %
    slower candidate look fine (no false green); the first measurement decides, as before."""
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily", noise=0.05)
    files = write_run(tmp_path / "pr", 1.3, seed=2, noise=0.05)

    def candidate(job: Remeasurement) -> object:
        return record(ScenarioWriter(job.where), 1.3, 3, job.requests or 1, 0.05)

    def dying_baseline(job: Remeasurement) -> object:
        e2e = latencies(job.requests or 1, 1.3, 4, 0.05)
        rows = [
            PerfRequestRow(request_index=i, success=i == 0, ttft_s=float(v) / 4 if i == 0 else None,
                           e2e_s=float(v) if i == 0 else None, total_time_s=float(v))
            for i, v in enumerate(e2e)
        ]  # fmt: skip
        row = perf_row(ttft_p99=0.05, e2e_p99=0.2, qps=1.0, requests=len(rows), provider="sim",
                       dataset="random")  # fmt: skip
        return ScenarioWriter(job.where).record_load_point(row, rows)

    confirm = confirmer(tmp_path / "base", tmp_path)
    [line] = confirm.after_point(
        "local-sim", files.summary_csv, files.requests_csv, 5.0, candidate, dying_baseline
    )
    assert "a baseline request failed; the first measurement decides]" in line

    run = read_run(tmp_path / "pr")
    fresh = with_remeasured_baseline(confirm.baseline("local-sim"), run)
    verdicts = evaluate(run, fresh, confirm.settings.gates, load_run_samples(run))
    [e2e] = [v for v in verdicts if v.gate == "e2e_p99"]
    assert e2e.status == "fail"
    assert "interleaved" not in e2e.detail


def test_poisson_rates_each_keep_their_own_confirmation(tmp_path: Path) -> None:
    """Poisson points at several rates share their acs-bench file names: the blocks of the
    confirmed rate decide that rate only, and never stand in as another rate's baseline."""
    poisson: dict[str, Any] = {"control_method": "poisson", "backend": "asyncio"}
    write_session(tmp_path / "base", {"local-sim": ["perf"]}, run_type="daily")
    daily = RunWriter(tmp_path / "base").scenario("local-sim")
    for rate in (1.0, 2.0):
        record(daily, 1.0, int(rate), 100, 0.05, request_rate=rate, **poisson)
    write_session(tmp_path / "pr", {"local-sim": ["perf"]}, run_type="pr")
    pr = RunWriter(tmp_path / "pr").scenario("local-sim")
    first = record(pr, 1.2, 1, 100, 0.05, request_rate=1.0, **poisson)  # rate 1: 20 % slower
    confirm = confirmer(tmp_path / "base", tmp_path)

    def on_build(scale: float) -> Measure:
        def measure(job: Remeasurement) -> object:  # the runner is 25 % slower by now
            return record(ScenarioWriter(job.where), scale * 1.25, 7, job.requests or 1, 0.05,
                          request_rate=1.0, **poisson)  # fmt: skip

        return measure

    confirm.after_point(
        "local-sim", first.summary_csv, first.requests_csv, 5.0, on_build(1.2), on_build(1.0)
    )
    record(pr, 1.0, 2, 100, 0.05, request_rate=2.0, **poisson)  # rate 2: as fast as the daily

    run = read_run(tmp_path / "pr")
    fresh = with_remeasured_baseline(confirm.baseline("local-sim"), run)
    verdicts = evaluate(run, fresh, confirm.settings.gates, load_run_samples(run))
    by_rate = {v.subject.split()[1]: v for v in verdicts if v.gate == "e2e_p99"}
    assert by_rate["r1"].status == "fail"
    assert "decided on the interleaved re-measurement" in by_rate["r1"].detail
    assert by_rate["r1"].delta == pytest.approx(0.2, abs=0.03)
    assert by_rate["r2"].status == "pass"  # its own recorded baseline, not rate 1's blocks
    assert "interleaved" not in by_rate["r2"].detail


def test_blocks_count_conversations_not_every_turn(tmp_path: Path) -> None:
    """A multi-turn point of 8 conversations x 3 turns records 24 requests; a re-measurement
    asks for conversations, so the blocks split the 8."""
    write_session(tmp_path / "base", {"local-sim": ["perf"]}, run_type="daily")
    record(RunWriter(tmp_path / "base").scenario("local-sim"), 1.0, 1, 24, 0.05,
           num_prompts=8, concurrency=1)  # fmt: skip
    write_session(tmp_path / "pr", {"local-sim": ["perf"]}, run_type="pr")
    files = record(RunWriter(tmp_path / "pr").scenario("local-sim"), 1.3, 2, 24, 0.05,
                   num_prompts=8, concurrency=1)  # fmt: skip
    asked: list[int] = []

    def measure(job: Remeasurement) -> object:
        asked.append(job.requests or 0)
        return record(ScenarioWriter(job.where), 1.3, 3, 3 * (job.requests or 0), 0.05)

    confirmer(tmp_path / "base", tmp_path).after_point(
        "local-sim", files.summary_csv, files.requests_csv, 1.0, measure, measure
    )
    assert asked == [4, 4, 4, 4]  # two blocks of 4 conversations per build, not 4 x 6


def test_an_interleaved_confirmation_stops_between_pairs_when_the_budget_runs_out(
    tmp_path: Path,
) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    steps: list[str] = []

    def slow(job: Remeasurement) -> object:
        steps.append(job.where.name)
        time.sleep(0.05)
        return record(ScenarioWriter(job.where), 1.12, 3, job.requests or 1, 0.25)

    # the point took 0.1 s, so 0.3 s seem enough for its 2 x 0.1 s; each pair of blocks takes
    # at least 0.2 s, and a second pair would not fit
    [line] = confirmer(tmp_path / "base", tmp_path, budget_s=0.3).after_point(
        "local-sim", files.summary_csv, files.requests_csv, 0.1, slow, slow
    )
    assert steps == ["block-1"] * 2 + ["block-2"] * 2
    assert "stopped after block 2 of 4 (the confirmation budget" in line


def test_blocks_measured_side_by_side_are_judged_on_the_configured_margin(tmp_path: Path) -> None:
    """A history margin allows for a baseline measured days ago; the interleaved blocks were
    measured at the same moments on both builds, so the day-to-day spread does not widen it."""
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.2, seed=2)

    def on_build(scale: float, seed: int) -> Measure:
        def measure(job: Remeasurement) -> object:
            return record(ScenarioWriter(job.where), scale, seed, job.requests or 1, 0.05)

        return measure

    confirm = confirmer(tmp_path / "base", tmp_path)
    confirm.after_point(
        "local-sim", files.summary_csv, files.requests_csv, 5.0, on_build(1.2, 3), on_build(1.0, 4)
    )
    run = read_run(tmp_path / "pr")
    fresh = with_remeasured_baseline(confirm.baseline("local-sim"), run)
    assert fresh is not None
    [(where, point)] = fresh.points.items()
    noisy_history = replace(point, spread={"e2e_p99": 0.2}, history_runs=7)  # margin 60 %
    with_history = replace(fresh, points={where: noisy_history})
    verdicts = evaluate(run, with_history, confirm.settings.gates, load_run_samples(run))
    [e2e] = [v for v in verdicts if v.gate == "e2e_p99"]
    assert e2e.threshold == pytest.approx(0.10)
    assert "no history widening: both builds were measured side by side" in e2e.margin_note
    assert e2e.status == "fail"
