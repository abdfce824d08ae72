"""Failure reasons travel from the summary CSV to the failure-ratio gate and to a metric."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.exposition import generate_latest

from cibench.artifacts import read_run
from cibench.config.settings import GateThresholds
from cibench.gates.rules import evaluate
from cibench.metrics.build import build_registry
from tests.support.artifacts import perf_row, write_perf, write_run_json, write_session


def failing_run(run_dir: Path) -> Path:
    write_session(run_dir, {"local-sim": ("perf",)})
    write_run_json(run_dir, "local-sim")
    row = perf_row(
        fail_rate=0.5,
        requests=8,
        failure_reasons="http_500:InternalServerError=3;timeout_stall=1",
        server_log_matches="cuda_oom=2 (torch.OutOfMemoryError: CUDA out of memory.)",
    )
    write_perf(run_dir, "local-sim", [row])
    return run_dir


def test_the_failure_ratio_gate_names_the_top_reasons_and_log_lines(tmp_path: Path) -> None:
    verdicts = evaluate(read_run(failing_run(tmp_path)), None, GateThresholds())
    (verdict,) = [v for v in verdicts if v.gate == "failure_ratio"]
    assert verdict.status == "fail"
    assert verdict.detail == (
        "top reasons: http_500:InternalServerError x3, timeout_stall x1; "
        "server log: cuda_oom=2 (torch.OutOfMemoryError: CUDA out of memory.)"
    )


def test_failed_requests_is_a_metric_per_reason(tmp_path: Path) -> None:
    run = read_run(failing_run(tmp_path))
    text = generate_latest(build_registry(run, [], prefix="p_", now_s=0)).decode()
    lines = [line for line in text.splitlines() if line.startswith("p_failed_requests{")]
    assert len(lines) == 2
    assert any(
        'reason="http_500:InternalServerError"' in line and line.endswith(" 3.0") for line in lines
    )
    assert any('reason="timeout_stall"' in line and line.endswith(" 1.0") for line in lines)
