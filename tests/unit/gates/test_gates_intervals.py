"""Regression verdicts with uncertainty: bootstrap intervals, the three-way decision, samples
read from per-request records, history-widened margins, low-confidence marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cibench.artifacts import RunWriter, read_run
from cibench.config.settings import GateThresholds
from cibench.gates.baseline import from_artifacts
from cibench.gates.interval import (
    ThroughputSample,
    decide,
    percentile_ratio,
    robust_spread,
    throughput_ratio,
)
from cibench.gates.rules import Verdict, evaluate
from cibench.gates.samples import load_run_samples
from cibench.report.summary import render_table
from tests.support.artifacts import record_measured_point, write_session

THRESHOLDS = GateThresholds()


def latencies(n: int, scale: float = 1.0, noise: float = 0.05, seed: int = 1) -> np.ndarray:
    """n latencies around 0.2 s with lognormal noise, multiplied by `scale`."""
    rng = np.random.default_rng(seed)
    return 0.2 * scale * rng.lognormal(0.0, noise, n)


def test_same_distribution_gives_an_interval_around_one_and_passes() -> None:
    interval = percentile_ratio(latencies(400, seed=1), latencies(400, seed=2), 99.0)

    assert interval is not None
    assert interval.low < 1.0 < interval.high
    assert interval.high - interval.low < 0.2
    assert decide(interval, 0.10, higher_is_worse=True) == "pass"


def test_a_clear_slowdown_fails_with_the_whole_interval_past_the_margin() -> None:
    interval = percentile_ratio(latencies(400, 1.3, seed=1), latencies(400, seed=2), 99.0)

    assert interval is not None
    assert interval.low > 1.1
    assert decide(interval, 0.10, higher_is_worse=True) == "fail"


def test_a_few_noisy_samples_are_inconclusive_rather_than_a_verdict() -> None:
    candidate, baseline = latencies(8, 1.12, noise=0.3, seed=3), latencies(8, noise=0.3, seed=4)

    interval = percentile_ratio(candidate, baseline, 99.0)

    assert interval is not None
    assert interval.low < 1.1 < interval.high
    assert decide(interval, 0.10, higher_is_worse=True) == "inconclusive"


def test_intervals_are_seeded_and_a_fixed_baseline_resamples_only_the_candidate() -> None:
    candidate, baseline = latencies(100, seed=5), latencies(100, seed=6)

    assert percentile_ratio(candidate, baseline, 99.0, seed=7) == percentile_ratio(
        candidate, baseline, 99.0, seed=7
    )
    fixed = percentile_ratio(candidate, float(np.percentile(baseline, 99)), 99.0)
    both = percentile_ratio(candidate, baseline, 99.0)
    assert fixed is not None
    assert both is not None
    assert fixed.baseline_samples is None
    assert both.baseline_samples == 100
    assert fixed.ratio == pytest.approx(both.ratio)
    assert fixed.high - fixed.low < both.high - both.low  # one source of noise, not two


@pytest.mark.parametrize("seed", [1, 3])
def test_the_same_prompts_sent_to_both_builds_are_resampled_as_pairs(seed: int) -> None:
    """On a one-core llama.cpp the prompt sets the latency (about 10 ms per prompt token), so
    a run's P99 is that of its longest prompts. Sent to both builds, request i of one is the
    same prompt as request i of the other: resampled together, the prompts' spread cancels and
    a 30 % slowdown stands out; resampled apart, it drowns in which prompts were drawn."""
    rng = np.random.default_rng(seed)
    prompt_cost = 0.4 * rng.lognormal(0.0, 0.3, 100)
    baseline = prompt_cost * rng.lognormal(0.0, 0.03, 100)
    candidate = 1.3 * prompt_cost * rng.lognormal(0.0, 0.03, 100)

    apart = percentile_ratio(candidate, baseline, 99.0)
    together = percentile_ratio(candidate, baseline, 99.0, paired=True)

    assert apart is not None
    assert together is not None
    assert together.ratio == apart.ratio  # the same data; only the interval differs
    assert decide(apart, 0.10, higher_is_worse=True) == "inconclusive"
    assert decide(together, 0.10, higher_is_worse=True) == "fail"
    assert together.high - together.low < (apart.high - apart.low) / 3


def test_throughput_interval_is_centred_on_the_measured_ratio_and_catches_a_drop() -> None:
    def sample(scale: float, seed: int) -> ThroughputSample:
        durations = latencies(300, scale, seed=seed)
        return ThroughputSample(durations, np.ones(durations.size))

    slower = throughput_ratio(sample(1.2, 1), sample(1.0, 2), 1 / 1.2, open_loop=False)
    same = throughput_ratio(sample(1.0, 1), sample(1.0, 2), 1.0, open_loop=False)

    assert slower is not None
    assert same is not None
    assert slower.ratio == pytest.approx(1 / 1.2)
    assert decide(slower, 0.05, higher_is_worse=False) == "fail"
    assert decide(same, 0.05, higher_is_worse=False) == "pass"


def test_robust_spread_ignores_one_bad_night() -> None:
    steady = np.array([1.00, 1.02, 0.98, 1.01, 0.99, 1.00, 1.60])

    spread = robust_spread(steady)

    assert spread is not None
    assert 0.005 < spread < 0.03
    assert robust_spread(np.array([1.0, 1.1])) is None  # too few nights to say


def run_with_records(
    run_dir: Path, scale: float, n: int, run_type: str = "pr", seed: int = 1
) -> Path:
    """A run whose one load point has `n` successful requests (with the stage's writer)."""
    write_session(run_dir, {"local-sim": ["perf"]}, run_type=run_type)
    ttft = latencies(n, scale, seed=seed) / 4
    e2e = latencies(n, scale, seed=seed + 100)
    record_measured_point(RunWriter(run_dir).scenario("local-sim"), ttft, e2e)
    return run_dir


def regression(run_dir: Path, baseline_dir: Path, thresholds: GateThresholds) -> list[Verdict]:
    run = read_run(run_dir)
    base = from_artifacts(baseline_dir, scenarios=["local-sim"])
    verdicts = evaluate(run, base, thresholds, load_run_samples(run))
    return [v for v in verdicts if v.gate in ("ttft_p99", "e2e_p99", "qps")]


def test_a_slow_run_fails_each_metric_and_names_its_interval(tmp_path: Path) -> None:
    base = run_with_records(tmp_path / "base", 1.0, 200, seed=1)
    slow = run_with_records(tmp_path / "slow", 1.3, 200, seed=2)

    verdicts = regression(slow, base, THRESHOLDS)

    assert [(v.gate, v.status) for v in verdicts] == [
        ("ttft_p99", "fail"),
        ("e2e_p99", "fail"),
        ("qps", "fail"),
    ]
    for verdict in verdicts:
        assert verdict.low is not None
        assert verdict.high is not None
        assert verdict.low <= verdict.delta <= verdict.high  # type: ignore[operator]
        assert verdict.samples == 200
        assert not verdict.low_confidence
    table = "\n".join(render_table(verdicts))
    assert "[+" in table
    assert "FAIL" in table


def test_an_identical_rerun_passes_and_small_samples_are_marked_low_confidence(
    tmp_path: Path,
) -> None:
    base = run_with_records(tmp_path / "base", 1.0, 200, seed=1)
    again = run_with_records(tmp_path / "again", 1.0, 200, seed=2)
    small = run_with_records(tmp_path / "small", 1.0, 20, seed=3)

    assert {v.status for v in regression(again, base, THRESHOLDS)} == {"pass"}
    weak = regression(small, base, THRESHOLDS)
    latency = [v for v in weak if v.gate != "qps"]
    assert all(v.low_confidence for v in latency)
    assert all("low confidence: 20 samples < 100 for P99" in v.detail for v in latency)
    assert not next(v for v in weak if v.gate == "qps").low_confidence


def test_gates_json_carries_interval_samples_and_margin(tmp_path: Path) -> None:
    base = run_with_records(tmp_path / "base", 1.0, 120, seed=1)
    slow = run_with_records(tmp_path / "slow", 1.3, 120, seed=2)
    verdicts = regression(slow, base, THRESHOLDS)

    record = verdicts[0].to_record()

    assert record.verdict == "fail"
    assert record.interval == [verdicts[0].low, verdicts[0].high]
    assert record.samples == 120
    assert record.margin_source == "margin 10% (configured)"
    assert Verdict.from_record(record) == verdicts[0]


def test_daily_history_widens_the_margin_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    # five noisy nights: each night's latency level differs by about +-10 %
    for night, scale in enumerate([1.0, 1.12, 0.9, 1.08, 0.95]):
        run_with_records(root / f"2026010{night}-000000-aaaa", scale, 150, "daily", seed=night)
    candidate = run_with_records(tmp_path / "pr", 1.15, 150, seed=42)

    run = read_run(candidate)
    base = from_artifacts(root, scenarios=["local-sim"], history_runs=5)
    verdicts = evaluate(run, base, THRESHOLDS, load_run_samples(run))
    [ttft] = [v for v in verdicts if v.gate == "ttft_p99"]

    assert ttft.threshold is not None
    assert ttft.threshold > THRESHOLDS.ttft_p99_increase
    assert "history: 3 x" in ttft.margin_note
    assert "over 5 dailies" in ttft.margin_note
    assert "(history)" in "\n".join(render_table([ttft]))
    # history_k 0 turns it off: the configured margin applies
    plain = evaluate(run, base, THRESHOLDS.model_copy(update={"history_k": 0.0}))
    [ttft] = [v for v in plain if v.gate == "ttft_p99"]
    assert ttft.threshold == THRESHOLDS.ttft_p99_increase
    assert ttft.margin_note == "margin 10% (configured)"
