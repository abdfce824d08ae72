"""Gate rules: order, thresholds at their edges, and `no data` / `no baseline` never passing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.artifacts import LoadPointKey, RunResults, read_run
from cibench.config.settings import GateThresholds
from cibench.gates.rules import (
    GATE_ORDER,
    HARNESS_BOUND_NOTE,
    Baseline,
    BaselinePoint,
    Verdict,
    evaluate,
    gate_outcomes,
)
from tests.support.artifacts import (
    perf_row,
    write_accuracy,
    write_complete_run,
    write_functional,
    write_perf,
    write_run_json,
    write_session,
)

KEY = LoadPointKey("fixed", "threading-pool", "2", "32", "8")
THRESHOLDS = GateThresholds()


def by_gate(verdicts: list[Verdict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for verdict in verdicts:
        out.setdefault(verdict.gate, []).append(verdict.status)
    return out


def baseline(
    ttft: float | None = 0.2, e2e: float | None = 0.5, qps: float | None = 4.0
) -> Baseline:
    return Baseline("test", {("local-sim", KEY): BaselinePoint(ttft, e2e, qps)})


def complete(tmp_path: Path, **values: float) -> RunResults:
    return read_run(write_complete_run(tmp_path / "run", **values))


def test_a_healthy_run_equal_to_its_baseline_passes_every_gate(tmp_path: Path) -> None:
    verdicts = evaluate(complete(tmp_path), baseline(), THRESHOLDS)

    assert {v.status for v in verdicts} == {"pass"}
    # every gate, in order (the capacity gate needs an SLO search: test_gates_capacity.py)
    assert list(by_gate(verdicts)) == [gate for gate in GATE_ORDER if gate != "capacity"]


def test_regression_thresholds_apply_strictly_above_the_limit(tmp_path: Path) -> None:
    # +10% exactly passes; a hair more fails. QPS -5% exactly passes; a hair less fails.
    at_limit = evaluate(
        complete(tmp_path, ttft_p99=0.22, e2e_p99=0.55, qps=3.8), baseline(), THRESHOLDS
    )
    over = evaluate(
        complete(tmp_path / "o", ttft_p99=0.2201, e2e_p99=0.5501, qps=3.799), baseline(), THRESHOLDS
    )

    assert by_gate(at_limit)["ttft_p99"] == ["pass"]
    assert by_gate(at_limit)["e2e_p99"] == ["pass"]
    assert by_gate(at_limit)["qps"] == ["pass"]
    assert by_gate(over)["ttft_p99"] == ["fail"]
    assert by_gate(over)["e2e_p99"] == ["fail"]
    assert by_gate(over)["qps"] == ["fail"]


def test_a_slowdown_fails_ttft_and_e2e_with_the_delta(tmp_path: Path) -> None:
    verdicts = evaluate(
        complete(tmp_path, ttft_p99=0.26, e2e_p99=0.65, qps=4.0), baseline(), THRESHOLDS
    )
    [ttft] = [v for v in verdicts if v.gate == "ttft_p99"]

    assert ttft.failed
    assert ttft.delta == pytest.approx(0.3)
    assert (ttft.baseline, ttft.current, ttft.threshold) == (0.2, 0.26, 0.1)
    assert ttft.subject == "fixed/threading-pool c2 in32 out8"


def test_faster_is_never_a_regression(tmp_path: Path) -> None:
    verdicts = evaluate(
        complete(tmp_path, ttft_p99=0.1, e2e_p99=0.2, qps=9.0), baseline(), THRESHOLDS
    )

    assert not any(v.failed for v in verdicts)


def test_no_baseline_is_reported_and_is_not_a_pass(tmp_path: Path) -> None:
    run = complete(tmp_path)
    other_point = Baseline(
        "t",
        {
            ("local-sim", LoadPointKey("fixed", "asyncio", "2", "32", "8")): BaselinePoint(
                0.2, 0.5, 4.0
            )
        },
    )

    for base in (None, Baseline("empty"), other_point, baseline(ttft=None, e2e=0.0)):
        verdicts = [v for v in evaluate(run, base, THRESHOLDS) if v.stage == "perf"]
        regression = [v for v in verdicts if v.gate in ("ttft_p99", "e2e_p99")]
        assert {v.status for v in regression} == {"no baseline"}
        assert not any(v.failed for v in regression)


def test_missing_current_values_say_no_data(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"local-sim": ["perf"]})
    write_perf(run_dir, "local-sim", [perf_row(ttft_p99=None, e2e_p99=None, qps=None)])

    verdicts = evaluate(read_run(run_dir), baseline(), THRESHOLDS)

    assert by_gate(verdicts)["ttft_p99"] == ["no data"]
    assert by_gate(verdicts)["qps"] == ["no data"]


def test_failure_ratio_above_five_percent_fails(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    write_perf(
        run_dir,
        "s",
        [
            perf_row(concurrency=1, fail_rate=0.05, requests=20),
            perf_row(concurrency=2, fail_rate=0.1, requests=20),
        ],
    )

    verdicts = evaluate(read_run(run_dir), None, THRESHOLDS)

    assert by_gate(verdicts)["failure_ratio"] == ["pass", "fail"]


def test_token_mismatches_fail_at_the_default_zero_tolerance(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    write_perf(run_dir, "s", [perf_row(token_mismatch=1, requests=10)])

    strict = evaluate(read_run(run_dir), None, THRESHOLDS)
    lenient = evaluate(read_run(run_dir), None, GateThresholds(max_token_mismatch_ratio=0.1))

    [mismatch] = [v for v in strict if v.gate == "token_mismatch"]
    assert mismatch.failed
    assert mismatch.current == pytest.approx(0.1)
    assert by_gate(lenient)["token_mismatch"] == ["pass"]


def test_expected_stage_without_results_fails_completeness(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["functional", "perf", "accuracy"]})
    write_functional(run_dir, "s", [("chat_core", "a", "pass")])

    verdicts = [
        v for v in evaluate(read_run(run_dir), None, THRESHOLDS) if v.gate == "completeness"
    ]

    assert [(v.stage, v.status) for v in verdicts] == [
        ("functional", "pass"),
        ("perf", "fail"),
        ("accuracy", "fail"),
    ]
    assert verdicts[1].detail == "perf was expected but left no results"


def test_a_server_that_never_started_fails_completeness_first(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"down": ["perf"]})
    write_run_json(run_dir, "down", launch_error="LaunchError: not healthy after 5 s\ntrace")

    verdicts = evaluate(read_run(run_dir), None, THRESHOLDS)

    assert verdicts[0].stage == "server"
    assert verdicts[0].failed
    assert verdicts[0].detail == "LaunchError: not healthy after 5 s"


def test_functional_failures_fail_their_suite(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["functional"]})
    write_functional(
        run_dir,
        "s",
        [
            ("chat_core", "a", "pass"),
            ("guided", "j", "fail"),
            ("guided", "k", "error"),
            ("guided", "l", "skip"),
        ],
    )

    verdicts = [v for v in evaluate(read_run(run_dir), None, THRESHOLDS) if v.gate == "functional"]

    assert [(v.subject, v.status, v.current, v.detail) for v in verdicts] == [
        ("chat_core", "pass", 0.0, ""),
        ("guided", "fail", 2.0, "j, k"),
    ]


@pytest.mark.parametrize(
    ("score", "threshold", "status"),
    [(0.6, 0.3, "pass"), (0.3, 0.3, "pass"), (0.29, 0.3, "fail"), (None, 0.3, "no data")],
)
def test_accuracy_below_threshold_fails(
    tmp_path: Path, score: float | None, threshold: float, status: str
) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["accuracy"]})
    write_accuracy(run_dir, "s", score=score, threshold=threshold)

    [verdict] = [v for v in evaluate(read_run(run_dir), None, THRESHOLDS) if v.gate == "accuracy"]

    assert verdict.status == status
    assert verdict.subject == "gpqa/diamond"


def test_gate_outcomes_fail_wins_and_no_data_is_absent() -> None:
    verdicts = [
        Verdict("qps", "perf", "s", "a", "QPS", 1.0, status="pass"),
        Verdict("qps", "perf", "s", "b", "QPS", 1.0, status="fail"),
        Verdict("ttft_p99", "perf", "s", "a", "TTFT", 1.0, status="no baseline"),
        Verdict("accuracy", "accuracy", "s", "gpqa", "score", None, status="no data"),
        Verdict("functional", "functional", "t", "x", "failed", 0.0, status="pass"),
    ]

    assert gate_outcomes(verdicts) == {("s", "qps"): False, ("t", "functional"): True}


def test_thresholds_come_from_settings(tmp_path: Path) -> None:
    loose = GateThresholds(ttft_p99_increase=0.5, e2e_p99_increase=0.5, qps_decrease=0.5)

    verdicts = evaluate(complete(tmp_path, ttft_p99=0.26, e2e_p99=0.65, qps=3.0), baseline(), loose)

    assert not any(v.failed for v in verdicts)


def test_a_harness_bound_point_stays_reported_but_its_regression_gates_are_excluded(
    tmp_path: Path,
) -> None:
    run_dir = write_session(tmp_path / "r", {"local-sim": ["perf"]})
    write_perf(run_dir, "local-sim", [perf_row(ttft_p99=0.3, harness_bottleneck=True)])

    verdicts = [v for v in evaluate(read_run(run_dir), baseline(), THRESHOLDS)
                if v.gate in ("ttft_p99", "qps")]  # fmt: skip

    assert [(v.status, v.current, v.detail) for v in verdicts] == [
        ("excluded", 0.3, HARNESS_BOUND_NOTE), ("excluded", 4.0, HARNESS_BOUND_NOTE)]  # fmt: skip
    assert not any(v.failed for v in verdicts)


def test_skipped_functional_cases_are_counted_by_reason_and_never_pass_silently(
    tmp_path: Path,
) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["functional"]})
    unsupported = "capability 'logprobs' unsupported (probe: 400 'no'); set features.logprobs"
    write_functional(
        run_dir,
        "s",
        [
            ("chat_core", "a", "pass"),
            ("params_boundary", "lp1", "skip", unsupported),
            ("params_boundary", "lp2", "skip", unsupported),
            ("guided", "j", "skip", "capability 'guided_decoding' is off: features.x: false"),
        ],
    )
    before = Baseline("b", functional_passed={"s": frozenset({"params_boundary::lp1"})})

    verdicts = evaluate(read_run(run_dir), before, THRESHOLDS)
    skips = [v for v in verdicts if v.gate == "functional_skips"]
    failed = [v.current for v in verdicts if v.gate == "functional"]

    assert failed == [0.0, 0.0, 0.0]
    assert [(v.status, v.current) for v in skips] == [("skipped", 3.0)]
    assert skips[0].detail == (
        "1 newly skipped (passed in the baseline): params_boundary::lp1; "
        "2× capability 'logprobs' unsupported; 1× capability 'guided_decoding' is off"
    )
    assert not skips[0].failed
    assert ("s", "functional_skips") not in gate_outcomes(verdicts)


def test_no_skips_is_a_pass_and_a_lost_capability_is_named_with_its_evidence(
    tmp_path: Path,
) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["functional"]})
    lost = "supported in the baseline, now unsupported (probe: 404 Not Found)"
    write_functional(
        run_dir, "s", [("chat_core", "a", "pass"), ("capabilities", "n", "fail", lost)]
    )

    verdicts = evaluate(read_run(run_dir), None, THRESHOLDS)

    assert [(v.gate, v.subject, v.status, v.detail) for v in verdicts[1:]] == [
        ("functional", "chat_core", "pass", ""),
        ("functional", "capabilities", "fail", f"n: {lost}"),
        ("functional_skips", "", "pass", ""),
    ]
