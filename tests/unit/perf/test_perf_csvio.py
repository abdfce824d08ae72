"""Summary and request CSVs: acs-bench names, -1 for no data, rows appended, read by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.client.record import RequestRecord
from cibench.perf.csvio import (
    REQUEST_COLUMNS,
    SUMMARY_COLUMNS,
    append_summary_row,
    read_requests,
    read_summary,
    request_rows,
    requests_filename,
    summary_filename,
    summary_row,
    write_requests,
)
from cibench.perf.server_metrics import ServerMetrics
from cibench.perf.stats import summarize

MS = 1_000_000


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


def test_file_names_follow_acs_bench() -> None:
    assert summary_filename("local-sim", "fixed", "asyncio", "2026-01-02_03_04_05") == (
        "summary_local-sim_fixed_asyncio_2026-01-02_03_04_05.csv"
    )
    assert requests_filename("p", "random", "climb", 8, "threading-pool", 128, 64, "T") == (
        "requests_p_random_climb_concurrency8_threading-pool_input128_output64_T.csv"
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
    path = tmp_path / "summary.csv"
    summary = summarize([record(0), record(1, success=False)])
    meta = {"Concurrency": 2, "Backend": "asyncio", "Control_Method": "fixed"}
    row = summary_row(meta, summary, ServerMetrics(ttft_s=0.05), harness_bottleneck=False)
    append_summary_row(path, row)
    append_summary_row(path, {**row, "Concurrency": 4})
    rows = read_summary(path)
    assert [r["Concurrency"] for r in rows] == [2.0, 4.0]
    first = rows[0]
    assert first["Backend"] == "asyncio"
    assert first["Fail_Rate"] == pytest.approx(0.5)
    assert first["TP50_TTFT(s)"] == pytest.approx(0.050)
    assert first["AVG_SERVER_TTFT(ms)"] == pytest.approx(50.0)
    assert first["AVG_SERVER_QUEUE_TIME(ms)"] == -1  # the server did not say
    assert first["Request_Rate"] == -1
    assert first["Harness_Bottleneck"] == 0
    assert list(first) == list(SUMMARY_COLUMNS)


def test_extra_percentiles_become_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "summary.csv"
    summary = summarize([record(0)], percentiles=(50, 75, 90, 95, 99, 99.9))
    row = summary_row({}, summary, ServerMetrics(), False, (50, 75, 90, 95, 99, 99.9))
    append_summary_row(path, row)
    assert read_summary(path)[0]["TP99.9_TTFT(s)"] == pytest.approx(0.050)


def test_request_rows(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    rows = request_rows([record(0), record(1, success=False)], 10 * MS, {"Backend": "asyncio"})
    write_requests(path, rows)
    back = read_requests(path)
    assert list(back[0]) == list(REQUEST_COLUMNS)
    assert back[0]["TTFT"] == pytest.approx(0.050)
    assert back[0]["Send_Lag(s)"] == pytest.approx(0.001)
    assert back[0]["ITL(s)"] == "0.010000 0.010000"
    assert back[0]["Total_Tokens"] == 11
    assert back[1]["Success"] == 0
    assert back[1]["TTFT"] == -1
    assert back[1]["Error_Message"] == "overloaded, retry"
