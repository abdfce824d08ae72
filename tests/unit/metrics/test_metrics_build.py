"""Building the registry: SPEC §7 names and labels, summaries, no-data left out, promtool-clean."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cibench.artifacts import LatencyStats, read_run
from cibench.gates.rules import Verdict
from cibench.metrics.build import build_registry, quantile_label
from cibench.metrics.push import write_metrics_file
from tests.support.artifacts import (
    perf_row,
    write_complete_run,
    write_functional,
    write_perf,
    write_run_json,
    write_session,
)

NOW = 1_800_000_000.0


def samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)], parsed back from the text exposition."""
    text = generate_latest(registry).decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def types(registry: CollectorRegistry) -> dict[str, str]:
    text = generate_latest(registry).decode()
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_percentiles_become_quantile_labels() -> None:
    assert [quantile_label(q) for q in (50.0, 99.0, 99.9)] == ["0.5", "0.99", "0.999"]


def test_extra_percentiles_and_server_means_are_exported(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    row = perf_row()
    row.ttft.percentiles[99.9] = 0.25
    write_perf(run_dir, "s", [row.model_copy(update={"server_ttft_ms": 40.0})])

    got = samples(build_registry(read_run(run_dir), [], prefix="", now_s=NOW))

    quantiles = {labels["quantile"]: value for labels, value in got["ttft_seconds"]}
    assert quantiles["0.999"] == 0.25
    assert got["server_ttft_avg_seconds"][0][1] == pytest.approx(0.04)
    assert "send_lag_seconds" not in got  # harness figures are not server metrics


def test_perf_values_become_spec_metrics_with_load_point_labels(tmp_path: Path) -> None:
    run = read_run(write_complete_run(tmp_path / "r1", run_type="daily", qps=5.0))
    got = samples(build_registry(run, [], prefix="vllm_cibench_", now_s=NOW))

    [(labels, qps)] = got["vllm_cibench_requests_per_second"]
    assert qps == 5.0
    assert labels == {
        "model": "sim-model",
        "quant": "none",
        "scenario": "local-sim",
        "run_type": "daily",
        "backend": "threading-pool",
        "control_method": "fixed",
        "concurrency": "2",
        "input_len": "32",
        "output_len": "8",
    }
    assert got["vllm_cibench_output_token_throughput_tokens_per_second"][0][1] == 40.0
    assert got["vllm_cibench_total_token_throughput_tokens_per_second"][0][1] == 200.0
    assert got["vllm_cibench_failure_ratio"][0][1] == 0.0
    assert got["vllm_cibench_high_failure_ratio"][0][1] == 0.0
    assert got["vllm_cibench_ttft_max_seconds"][0][1] == pytest.approx(0.202)
    assert got["vllm_cibench_time_between_first_and_second_token_min_seconds"][0][1] == 0.02


def test_session_turn_ttft_is_pushed_only_for_sessions(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    session = {"session_turns": 3, "first_turn_ttft_p50_s": 0.02, "later_turn_ttft_p99_s": 0.05}
    write_perf(run_dir, "s", [perf_row().model_copy(update=session)])
    got = samples(build_registry(read_run(run_dir), [], prefix="", now_s=NOW))
    assert got["first_turn_ttft_p50_seconds"][0][1] == pytest.approx(0.02)
    assert got["later_turn_ttft_p99_seconds"][0][1] == pytest.approx(0.05)
    assert "later_turn_ttft_p50_seconds" not in got  # no data: left out
    run_dir = write_session(tmp_path / "plain", {"s": ["perf"]})
    write_perf(run_dir, "s", [perf_row()])
    got = samples(build_registry(read_run(run_dir), [], prefix="", now_s=NOW))
    assert not [name for name in got if "turn_ttft" in name]


def test_latency_percentiles_are_summaries_with_sum_and_count(tmp_path: Path) -> None:
    run = read_run(write_complete_run(tmp_path / "r1", ttft_p99=0.2))
    registry = build_registry(run, [], prefix="p_", now_s=NOW)
    got = samples(registry)

    assert types(registry)["p_ttft_seconds"] == "summary"
    quantiles = {labels["quantile"]: value for labels, value in got["p_ttft_seconds"]}
    assert quantiles == pytest.approx(
        {"0.5": 0.16, "0.75": 0.17, "0.9": 0.18, "0.95": 0.19, "0.99": 0.2}
    )
    # 8 successful requests, AVG_TTFT = 0.2 * 0.82
    assert got["p_ttft_seconds_count"][0][1] == 8
    assert got["p_ttft_seconds_sum"][0][1] == pytest.approx(8 * 0.164)
    assert "quantile" not in got["p_ttft_seconds_sum"][0][0]
    assert types(registry)["p_e2e_seconds"] == "summary"


def test_no_data_is_left_out_not_written_as_zero(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"s": ["perf"]})
    write_perf(run_dir, "s", [perf_row(ttft_p99=None, e2e_p99=None, qps=None, fail_rate=1.0)])
    got = samples(build_registry(read_run(run_dir), [], prefix="", now_s=NOW))

    assert "ttft_seconds" not in got
    assert "e2e_avg_seconds" not in got
    assert "requests_per_second" not in got
    assert got["failure_ratio"][0][1] == 1.0
    assert got["high_failure_ratio"][0][1] == 1.0


def test_functional_counts_per_suite_and_per_case_only_on_daily(tmp_path: Path) -> None:
    rows = [
        ("chat_core", "a", "pass"),
        ("chat_core", "b", "fail"),
        ("chat_core", "c", "skip"),
        ("guided", "j", "error"),
    ]
    for run_type in ("pr", "daily"):
        run_dir = write_session(tmp_path / run_type, {"s": ["functional"]}, run_type=run_type)
        write_functional(run_dir, "s", rows)
        registry = build_registry(read_run(run_dir), [], prefix="", now_s=NOW)
        got = samples(registry)

        by_suite = {labels["suite"]: value for labels, value in got["functional_cases_total"]}
        assert by_suite == {"chat_core": 3, "guided": 1}
        failed = {labels["suite"]: value for labels, value in got["functional_cases_failed"]}
        assert failed == {"chat_core": 1, "guided": 1}
        skipped = {labels["suite"]: value for labels, value in got["functional_cases_skipped"]}
        assert skipped == {"chat_core": 1, "guided": 0}
        ratio = {labels["suite"]: value for labels, value in got["functional_pass_ratio"]}
        assert ratio == {"chat_core": 0.5, "guided": 0.0}
        skipped = {labels["suite"]: value for labels, value in got["functional_cases_skipped"]}
        assert skipped == {"chat_core": 1, "guided": 0}
        if run_type == "pr":
            assert "functional_case_pass" not in got
        else:
            per_case = {labels["case_id"]: value for labels, value in got["functional_case_pass"]}
            assert per_case == {"a": 1.0, "b": 0.0, "j": 0.0}  # skipped "c" absent


def test_accuracy_run_info_and_last_success(tmp_path: Path) -> None:
    run = read_run(write_complete_run(tmp_path / "r1"))
    got = samples(build_registry(run, [], prefix="x_", now_s=NOW))

    [(labels, score)] = got["x_accuracy_score"]
    assert (labels["dataset"], labels["variant"], score) == ("gpqa", "diamond", 0.6)
    [(info, one)] = got["x_run_info"]
    assert one == 1.0
    assert info["vllm_version"] == "0.11.0"
    assert info["hardware"] == "cpu"
    assert info["commit"] == "0123abc"
    [(_, when)] = got["x_last_success_timestamp_seconds"]
    assert when == run.end_s


def test_run_identity_is_on_run_info_only(tmp_path: Path) -> None:
    # run_id/commit/branch change every run; on other series they would start new series daily.
    run = read_run(write_complete_run(tmp_path / "r1", run_type="daily"))
    got = samples(build_registry(run, [], prefix="", now_s=NOW))

    [(info, _)] = got["run_info"]
    assert {info["run_id"], info["commit"], info["branch"]} == {"r1", "0123abc", "main"}
    for name, series in got.items():
        if name != "run_info":
            for labels, _ in series:
                assert not {"run_id", "commit", "branch", "vllm_version"} & set(labels), name


def test_no_last_success_when_a_stage_left_nothing_or_the_server_failed(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"partial": ["functional", "perf"], "down": ["perf"]})
    write_functional(run_dir, "partial", [("chat_core", "a", "pass")])
    write_run_json(run_dir, "down", launch_error="not healthy")
    got = samples(build_registry(read_run(run_dir), [], prefix="", now_s=NOW))

    assert "last_success_timestamp_seconds" not in got
    assert {labels["scenario"] for labels, _ in got["run_info"]} == {"partial", "down"}


def test_gate_pass_is_one_zero_or_absent(tmp_path: Path) -> None:
    run = read_run(write_complete_run(tmp_path / "r1"))
    verdicts = [
        Verdict("completeness", "perf", "local-sim", "", "stage results", 1.0),
        Verdict("ttft_p99", "perf", "local-sim", "lp", "TTFT P99", 0.3, 0.2, 0.1, "fail"),
        Verdict("ttft_p99", "perf", "local-sim", "lp2", "TTFT P99", 0.2, 0.2, 0.1, "pass"),
        Verdict("qps", "perf", "local-sim", "lp", "QPS", 4.0, None, 0.05, "no baseline"),
    ]
    got = samples(build_registry(run, verdicts, prefix="", now_s=NOW))

    gates = {labels["gate"]: value for labels, value in got["gate_pass"]}
    assert gates == {"completeness": 1.0, "ttft_p99": 0.0}


def test_scenario_filter_builds_one_pushgateway_group(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "r", {"a": ["perf"], "b": ["perf"]})
    write_perf(run_dir, "a", [perf_row()])
    write_perf(run_dir, "b", [perf_row()])
    got = samples(build_registry(read_run(run_dir), [], prefix="", now_s=NOW, scenarios={"b"}))

    assert {labels["scenario"] for labels, _ in got["requests_per_second"]} == {"b"}


@pytest.mark.parametrize("prefix", ["vllm_cibench_", ""])
def test_metrics_file_passes_promtool(
    tmp_path: Path, prefix: str, check_metrics: Callable[[Path], str]
) -> None:
    run_dir = write_complete_run(tmp_path / "r1", run_type="daily")
    row = perf_row(
        concurrency=4,
        server_ttft_ms=12.5,
        server_preemptions=0,
        itl=LatencyStats(percentiles={99.0: 0.01}),
    )
    write_perf(run_dir, "local-sim", [row])
    write_run_json(run_dir, "local-sim")
    verdicts = [Verdict("qps", "perf", "local-sim", "lp", "QPS", 4.0, 4.0, 0.05, "pass")]
    registry = build_registry(read_run(run_dir), verdicts, prefix=prefix, now_s=NOW)
    path = tmp_path / "metrics.prom"

    write_metrics_file(path, registry)

    check_metrics(path)
    text = path.read_text()
    assert text.endswith("\n")
    assert f"{prefix}server_ttft_avg_seconds" in text
    assert f"# TYPE {prefix}functional_cases_total counter" in text
