"""`RunReader`: by header name, `-1` as no data, reruns, missing pieces reported."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cibench.artifacts import LoadPointKey, read_run
from cibench.artifacts.codec import decode_float, label
from cibench.errors import CibenchError
from tests.support.artifacts import (
    perf_row,
    write_accuracy,
    write_complete_run,
    write_functional,
    write_perf,
    write_run_json,
    write_session,
)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("0.25", 0.25),
        (" 3 ", 3.0),
        ("-1", None),
        ("-1.0", None),
        ("", None),
        ("nan", None),
        ("n/a", None),
        ("0", 0.0),
    ],
)
def test_sentinel_cells_read_minus_one_and_blanks_as_no_data(
    cell: str, expected: float | None
) -> None:
    assert decode_float(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(128, "128"), (128.0, "128"), (0.5, "0.5"), ("fixed", "fixed"), (None, "")],
)
def test_labels_drop_float_noise_so_runs_compare_equal(
    cell: str | float | None, expected: str
) -> None:
    assert label(cell) == expected


def test_complete_run_reads_every_stage(tmp_path: Path) -> None:
    run = read_run(write_complete_run(tmp_path / "r1", run_type="daily"))

    assert (run.run_id, run.run_type, run.commit, run.branch) == ("r1", "daily", "0123abc", "main")
    assert run.end_s is not None
    [scenario] = run.scenarios
    assert scenario.scenario == "local-sim"
    assert scenario.expected_stages == ("functional", "perf", "accuracy")
    assert scenario.vllm_version == "0.11.0"
    assert scenario.launch_error is None
    assert [case.case_id for case in scenario.functional] == ["basic", "stop"]
    [point] = scenario.perf
    assert point.key == LoadPointKey("fixed", "threading-pool", "2", "32", "8")
    assert point.ttft.p99 == pytest.approx(0.2)
    assert point.growth_rate is None  # written as -1
    [accuracy] = scenario.accuracy
    assert (accuracy.dataset, accuracy.variant, accuracy.score, accuracy.passed) == (
        "gpqa",
        "diamond",
        0.6,
        True,
    )
    assert scenario.problems == []


def test_summary_columns_are_found_by_name_in_any_order(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    path = run_dir / "s" / "perf" / "summary_x.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "QPS",
                "Backend",
                "Concurrency",
                "TP99_TTFT(s)",
                "Input_Length",
                "Output_Length",
                "Control_Method",
                "Extra_New_Column",
            ]
        )
        writer.writerow(["7.5", "asyncio", "4", "0.125", "128", "64", "poisson", "x"])

    [point] = read_run(run_dir).scenarios[0].perf

    assert point.key.describe() == "poisson/asyncio c4 in128 out64"
    assert point.qps == 7.5
    assert point.ttft.p99 == 0.125


def test_rerun_rows_keep_the_final_outcome_across_worker_files(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["functional"]})
    write_functional(
        run_dir,
        "s",
        [("chat_core", "a", "fail"), ("chat_core", "b", "pass")],
        worker_id="gw0",
    )
    write_functional(run_dir, "s", [("chat_core", "a", "pass")], worker_id="gw1")

    cases = read_run(run_dir).scenarios[0].functional

    assert sorted((c.case_id, c.status) for c in cases) == [("a", "pass"), ("b", "pass")]


def test_launch_error_and_missing_stages_are_kept_for_the_gates(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"down": ["functional", "perf"]})
    write_run_json(run_dir, "down", launch_error="LaunchError: not healthy after 5 s\nlog: x")

    [scenario] = read_run(run_dir).scenarios

    assert scenario.launch_error is not None
    assert scenario.launch_error.startswith("LaunchError")
    assert not scenario.has_results("functional")
    assert not scenario.has_results("perf")


def test_scenario_directories_the_session_did_not_list_are_still_read(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"a": ["perf"]})
    write_perf(run_dir, "a", [perf_row()])
    write_run_json(run_dir, "b")
    write_accuracy(run_dir, "b")

    run = read_run(run_dir)

    assert [s.scenario for s in run.scenarios] == ["a", "b"]
    assert run.scenarios[1].expected_stages == ()
    assert run.scenarios[1].has_results("accuracy")


def test_duplicate_load_points_are_reported(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    write_perf(run_dir, "s", [perf_row(qps=1.0), perf_row(qps=2.0)])

    [scenario] = read_run(run_dir).scenarios

    assert [p.qps for p in scenario.perf] == [2.0]
    assert "appears twice" in scenario.problems[0]


def test_unreadable_run_json_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    (run_dir / "s").mkdir()
    (run_dir / "s" / "run.json").write_text("{not json")

    [scenario] = read_run(run_dir).scenarios

    assert "run.json: cannot read" in scenario.problems[0]


def test_missing_session_json_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(CibenchError, match=r"session.json: not found.*run directory"):
        read_run(tmp_path)


def test_malformed_session_json_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "session.json").write_text(json.dumps({"run_id": "x"}))

    with pytest.raises(CibenchError, match=r"session.json: run_type: Field required"):
        read_run(tmp_path)


def test_rate_and_growth_identify_poisson_and_climb_points_only(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    poisson = perf_row(control_method="poisson", request_rate=50.0, growth_rate=0)
    climb = perf_row(control_method="climb", growth_rate=2)
    fixed = perf_row(growth_rate=0)
    write_perf(run_dir, "s", [poisson, climb, fixed])

    keys = {point.key.control_method: point.key for point in read_run(run_dir).scenarios[0].perf}

    assert {name: (k.request_rate, k.growth_rate) for name, k in keys.items()} == {
        "poisson": ("50", ""),
        "climb": ("", "2"),
        "fixed": ("", ""),
    }
    assert keys["poisson"].describe() == "poisson/threading-pool r50 c2 in32 out8"
    assert keys["poisson"].labels()["request_rate"] == "50"
    assert "growth_rate" not in keys["fixed"].labels()
