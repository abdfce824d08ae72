"""Write run directories by hand, through the same `RunWriter` the stages use, so hand-made
runs have the exact on-disk format of real ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cibench.artifacts import (
    AccuracyRow,
    FunctionalCaseRow,
    LatencyStats,
    PerfRequestRow,
    PerfSummaryRow,
    RunFile,
    RunWriter,
    ScenarioWriter,
    SessionFile,
    SessionScenario,
)
from cibench.artifacts.writer import LoadPointFiles


def write_session(
    run_dir: Path,
    scenarios: Mapping[str, Sequence[str]],
    *,
    run_id: str | None = None,
    run_type: str = "pr",
    commit: str = "0123abc",
    branch: str = "main",
    model: str = "sim-model",
    end: str = "2026-01-02T00:10:00+00:00",
) -> Path:
    """Write `session.json` for `scenarios` (id -> expected stages); returns the run directory."""
    session = SessionFile(
        run_id=run_id or run_dir.name,
        run_type=run_type,
        commit=commit,
        branch=branch,
        start="2026-01-02T00:00:00+00:00",
        end=end,
        cibench_version="0.1.0",
        scenarios={
            scenario: SessionScenario(
                stages=list(stages),
                model=model,
                served_model_name=model,
                quant="none",
                hardware="cpu",
                mode="local",
            )
            for scenario, stages in scenarios.items()
        },
    )
    RunWriter(run_dir).finish(session)
    return run_dir


def write_run_json(
    run_dir: Path,
    scenario: str,
    *,
    launch_error: str | None = None,
    server_version: str | None = "0.11.0",
) -> None:
    """Write `<scenario>/run.json` as the server pool does."""
    run = RunFile(
        scenario=scenario,
        mode="local",
        model="sim-model",
        served_model_name="sim-model",
        quant="none",
        hardware="cpu",
        launch_error=launch_error,
        server_version={"version": server_version} if server_version else None,
    )
    RunWriter(run_dir).start_scenario(run, scenario)


def _stats(p99: float | None) -> LatencyStats:
    if p99 is None:
        return LatencyStats()
    factors = {50.0: 0.8, 75.0: 0.85, 90.0: 0.9, 95.0: 0.95, 99.0: 1.0}
    return LatencyStats(
        percentiles={q: p99 * factor for q, factor in factors.items()},
        max=p99 * 1.01,
        min=p99 * 0.7,
        avg=p99 * 0.82,
    )


def perf_row(
    *,
    concurrency: int = 2,
    input_len: int = 32,
    output_len: int = 8,
    ttft_p99: float | None = 0.2,
    e2e_p99: float | None = 0.5,
    qps: float | None = 4.0,
    fail_rate: float = 0.0,
    requests: int = 8,
    token_mismatch: int = 0,
    backend: str = "threading-pool",
    control_method: str = "fixed",
    **fields: Any,
) -> PerfSummaryRow:
    """A summary row with plausible values derived from a few knobs (None = no data); other
    `PerfSummaryRow` fields may be given by name."""
    failures = round(requests * fail_rate)
    row = PerfSummaryRow(
        input_length=input_len,
        output_length=output_len,
        concurrency=concurrency,
        num_requests=requests,
        success=requests - failures,
        failures=failures,
        fail_rate=fail_rate,
        token_mismatch=token_mismatch,
        qps=qps,
        output_token_throughput=None if qps is None else qps * output_len,
        total_token_throughput=None if qps is None else qps * (input_len + output_len),
        backend=backend,
        control_method=control_method,
        ttft=_stats(ttft_p99),
        e2e=_stats(e2e_p99),
        tpot=LatencyStats(percentiles={99.0: 0.03}, avg=0.025),
        first_two=LatencyStats(percentiles={99.0: 0.031}, avg=0.026, min=0.02, max=0.032),
    )
    return row.model_copy(update=fields)


def write_perf(run_dir: Path, scenario: str, rows: Sequence[PerfSummaryRow]) -> Path:
    """Record the rows as load points of `<scenario>/perf/` with the perf stage's writer."""
    writer = RunWriter(run_dir).scenario(scenario)
    files = [writer.record_load_point(row, []) for row in rows]
    return files[0].summary_csv if files else writer.perf_dir


def write_functional(
    run_dir: Path,
    scenario: str,
    rows: Sequence[tuple[str, str, str] | tuple[str, str, str, str]],
    worker_id: str = "master",
) -> Path:
    """Record `(suite, case_id, status[, reason])` rows (`pass`/`fail`/`skip`) with the stage's
    writer (the reason defaults to "why" for a case that did not pass)."""
    writer = RunWriter(run_dir).scenario(scenario)
    path = writer.directory
    for row_values in rows:
        suite, case_id, status = row_values[:3]
        reason = row_values[3] if len(row_values) == 4 else ("" if status == "pass" else "why")
        row = FunctionalCaseRow(
            suite=suite, case_id=case_id, status=status, reason=reason, duration_s=0.01
        )
        path = writer.record_case(row, worker_id)
    return path


def write_accuracy(
    run_dir: Path, scenario: str, *, score: float | None = 0.6, threshold: float | None = 0.3
) -> Path:
    """Record one GPQA row in `<scenario>/accuracy.csv` with the accuracy stage's writer."""
    passed = None if score is None or threshold is None else score >= threshold
    row = AccuracyRow(
        dataset="gpqa",
        variant="diamond",
        score=score,
        std=0.1,
        n=10,
        threshold=threshold,
        passed=passed,
        model="sim-model",
    )
    return RunWriter(run_dir).scenario(scenario).record_accuracy(row)


def write_complete_run(
    run_dir: Path,
    scenario: str = "local-sim",
    *,
    run_type: str = "pr",
    ttft_p99: float = 0.2,
    e2e_p99: float = 0.5,
    qps: float = 4.0,
) -> Path:
    """A run where every stage of one scenario left healthy results."""
    write_session(run_dir, {scenario: ("functional", "perf", "accuracy")}, run_type=run_type)
    write_run_json(run_dir, scenario)
    write_functional(
        run_dir, scenario, [("chat_core", "basic", "pass"), ("chat_core", "stop", "pass")]
    )
    write_perf(run_dir, scenario, [perf_row(ttft_p99=ttft_p99, e2e_p99=e2e_p99, qps=qps)])
    write_accuracy(run_dir, scenario)
    return run_dir


def record_measured_point(
    writer: ScenarioWriter, ttft_s: Sequence[float], e2e_s: Sequence[float], **fields: Any
) -> LoadPointFiles:
    """Record a load point of successful requests with these latencies (the stage's writer) and
    the summary row they give: P99s as the perf stage computes them (linear interpolation), QPS
    from Little's law with 2 streams; `fields` go to `perf_row` (the point's parameters)."""
    import numpy as np  # only the tests that write records need it

    requests = [
        PerfRequestRow(request_index=i, success=True, ttft_s=float(first), e2e_s=float(last),
                       total_time_s=float(last))
        for i, (first, last) in enumerate(zip(ttft_s, e2e_s, strict=True))
    ]  # fmt: skip
    row = perf_row(
        ttft_p99=float(np.percentile(ttft_s, 99)),
        e2e_p99=float(np.percentile(e2e_s, 99)),
        qps=2 / float(np.mean(e2e_s)),
        requests=len(requests),
        provider="sim",
        dataset="random",
        **fields,
    )
    return writer.record_load_point(row, requests)
