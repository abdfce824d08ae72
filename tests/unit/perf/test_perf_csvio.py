"""Summary and request CSVs: acs-bench names, -1 for no data, rows appended, read by name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter, read_requests, read_summary
from cibench.artifacts.rows import REQUEST_COLUMNS, SUMMARY_COLUMNS, LoadPointParameters
from cibench.client.record import RequestRecord
from cibench.perf.csvio import request_rows, summary_row
from cibench.perf.health import Health
from cibench.perf.server_metrics import ServerMetrics
from cibench.perf.stats import summarize

MS = 1_000_000
PARAMS = LoadPointParameters(
    provider="local-sim",
    dataset="random",
    concurrency=2,
    input_length=128,
    output_length=64,
    backend="asyncio",
    control_method="fixed",
    top_k=-1,
)


def record(index: int, success: bool = True) -> RequestRecord:
    return RequestRecord(
        index=index,
        scheduled_ns=10 * MS,
        ready_ns=10 * MS,
        start_ns=11 * MS,
        end_ns=100 * MS,
        token_ns=[61 * MS, 71 * MS, 81 * MS] if success else [],
        prompt_tokens=8 if success else None,
        completion_tokens=3 if success else None,
        requested_output_tokens=3,
        success=success,
        http_status=200 if success else 503,
        error_type=None if success else "HTTP503",
        error_message=None if success else "overloaded, retry",
    )


def header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle))


def test_file_names_follow_acs_bench(tmp_path: Path) -> None:
    summary = summary_row(PARAMS, summarize([record(0)]), ServerMetrics(), Health())
    files = ScenarioWriter(tmp_path).record_load_point(summary, [])
    assert files.summary_csv.parent == tmp_path / "perf"
    assert files.summary_csv.name.startswith("summary_local-sim_fixed_asyncio_")
    assert files.requests_csv.name.startswith(
        "requests_local-sim_random_fixed_concurrency2_asyncio_input128_output64_"
    )


def test_summary_columns_include_the_acs_bench_names() -> None:
    for name in (
        "Execution_Time",
        "Concurrency",
        "Total_Token_Throughput(tokens/s)",
        "TP99_TTFT(s)",
        "AVG_TPOT(s)",
        "MIN_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
        "MAX_E2E(s)",
        "QPS",
        "Fail_Rate",
        "Control_Method",
        "AVG_SERVER_TTFT(ms)",
    ):
        assert name in SUMMARY_COLUMNS
    assert len(set(SUMMARY_COLUMNS)) == len(SUMMARY_COLUMNS)


def test_rows_append_and_read_back_by_name(tmp_path: Path) -> None:
    writer = ScenarioWriter(tmp_path)
    summary = summarize([record(0), record(1, success=False)])
    row = summary_row(PARAMS, summary, ServerMetrics(ttft_s=0.05), Health())
    writer.record_load_point(row, [])
    files = writer.record_load_point(row.model_copy(update={"concurrency": 4}), [])
    rows = read_summary(files.summary_csv)
    assert [r.concurrency for r in rows] == [2, 4]
    first = rows[0]
    assert first.backend == "asyncio"
    assert first.fail_rate == pytest.approx(0.5)
    assert first.ttft.p50 == pytest.approx(0.050)
    assert first.server_ttft_ms == pytest.approx(50.0)
    assert first.server_queue_time_ms is None  # the server did not say: -1 on disk
    assert first.request_rate is None
    assert first.harness_bottleneck is False
    assert first.top_k == -1  # a real value ("no top-k"), not "no data"
    assert header(files.summary_csv) == list(SUMMARY_COLUMNS)


def test_extra_percentiles_become_extra_columns(tmp_path: Path) -> None:
    percentiles = (50, 75, 90, 95, 99, 99.9)
    summary = summarize([record(0)], percentiles=percentiles)
    row = summary_row(PARAMS, summary, ServerMetrics(), Health(), percentiles)
    files = ScenarioWriter(tmp_path).record_load_point(row, [])
    assert header(files.summary_csv)[-5:] == [
        "TP99.9_TTFT(s)",
        "TP99.9_TPOT(s)",
        "TP99.9_E2E(s)",
        "TP99.9_ITL(s)",
        "TP99.9_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    ]
    assert read_summary(files.summary_csv)[0].ttft.at(99.9) == pytest.approx(0.050)


def test_request_rows(tmp_path: Path) -> None:
    rows = request_rows([record(0), record(1, success=False)], 10 * MS, PARAMS)
    summary = summary_row(PARAMS, summarize([record(0)]), ServerMetrics(), Health())
    files = ScenarioWriter(tmp_path).record_load_point(summary, rows)
    assert header(files.requests_csv) == list(REQUEST_COLUMNS)
    back = read_requests(files.requests_csv)
    assert back[0].ttft_s == pytest.approx(0.050)
    assert back[0].send_lag_s == pytest.approx(0.001)
    assert back[0].itl == "0.010000 0.010000"
    assert back[0].itl_s == [0.01, 0.01]
    assert back[0].total_tokens == 11
    assert back[0].top_k == -1
    assert back[1].success is False
    assert back[1].ttft_s is None
    assert back[1].error_message == "overloaded, retry"


def test_request_rows_carry_absolute_time_and_units(tmp_path: Path) -> None:
    # perf_counter 10 ms was Unix time 1,700,000,000 s
    anchor = (1_700_000_000 * 10**9, 10 * MS)
    rows = request_rows([record(0)], 10 * MS, PARAMS, anchor=anchor)
    summary = summary_row(PARAMS, summarize([record(0)]), ServerMetrics(), Health())
    files = ScenarioWriter(tmp_path).record_load_point(summary, rows)
    (row,) = read_requests(files.requests_csv)
    assert row.origin_unix_s == 1_700_000_000.0
    assert row.origin_perf_counter_ns == 10 * MS
    assert row.start_unix_s == pytest.approx(1_700_000_000.0 + (row.start_time or 0))
    assert (row.ttft_seconds, row.end_time_s) == (row.ttft_s, row.end_time)
    for unitless in ("Start_Time", "End_Time", "TTFT", "TPOT"):
        assert f"{unitless}(s)" in REQUEST_COLUMNS
