"""acs-bench-compatible `requests_*.csv` / `summary_*.csv` files: names, columns, writing, reading.

Consumers read these files by header name (`read_summary`), never by position. "No data" is
`None` in memory and `-1` on disk.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from cibench.client.record import RequestRecord
from cibench.perf.server_metrics import ServerMetrics
from cibench.perf.stats import (
    Distribution,
    LoadPointSummary,
    e2e_s,
    first_two_s,
    itl_s,
    tpot_s,
    ttft_s,
)

__all__ = [
    "DISTRIBUTION_STATS",
    "LATENCY_FAMILIES",
    "MISSING",
    "REQUEST_COLUMNS",
    "SERVER_COLUMNS",
    "SUMMARY_COLUMNS",
    "append_summary_row",
    "read_requests",
    "read_summary",
    "request_rows",
    "requests_filename",
    "summary_filename",
    "summary_row",
    "write_requests",
]

MISSING = -1
"""What a CSV cell holds when there is no data (`None` in memory)."""

LATENCY_FAMILIES = ("TTFT", "TPOT", "E2E", "ITL", "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN")
"""Per-request latency distributions summarised per load point, in seconds."""

DISTRIBUTION_STATS = ("TP50", "TP75", "TP90", "TP95", "TP99", "MAX", "MIN", "AVG")
"""Statistic prefixes of every latency family: `TP99_TTFT(s)`, `AVG_E2E(s)`, ..."""

SERVER_COLUMNS = (
    "AVG_SERVER_TTFT(ms)",
    "AVG_SERVER_TPOT(ms)",
    "AVG_SERVER_E2E(ms)",
    "AVG_SERVER_QUEUE_TIME(ms)",
    "AVG_SERVER_PREFILL_TIME(ms)",
    "AVG_SERVER_DECODE_TIME(ms)",
    "SERVER_PREEMPTIONS",
)
"""Server-side means from `/metrics` histogram deltas over the load point (`-1` when absent)."""

SUMMARY_COLUMNS: tuple[str, ...] = (
    "Execution_Time",
    "Scenario",
    "Model",
    "Input_Length",
    "Output_Length",
    "Concurrency",
    "Request_Rate",
    "Num_Requests",
    "Total_Token_Throughput(tokens/s)",
    "Output_Token_Throughput(tokens/s)",
    *(f"{stat}_{family}(s)" for family in LATENCY_FAMILIES for stat in DISTRIBUTION_STATS),
    "Total_Time(s)",
    "QPS",
    "Fail_Rate",
    "Success",
    "Failures",
    "Token_Mismatch",
    "TP50_Send_Lag(s)",
    "TP99_Send_Lag(s)",
    "MAX_Send_Lag(s)",
    "Achieved_Rate",
    "Harness_Bottleneck",
    "Backend",
    "Temperature",
    "Top_K",
    "Top_P",
    "Control_Method",
    "Growth_Rate",
    "Rounds",
    "Num_Prompts",
    "Provider",
    "Dataset",
    "AVG_PROMPT_TOKENS",
    "AVG_COMPLETION_TOKENS",
    *SERVER_COLUMNS,
)
"""The summary header, one row per load point. Extra percentiles asked for by a profile
(e.g. `TP99.9_TTFT(s)`) are appended after these; read by name."""

REQUEST_COLUMNS: tuple[str, ...] = (
    "Request_Index",
    "Epoch",
    "Worker",
    "Scheduled_Offset(s)",
    "Start_Time",
    "End_Time",
    "Send_Lag(s)",
    "Success",
    "HTTP_Status",
    "Error_Type",
    "Error_Message",
    "Prompt_Tokens",
    "Completion_Tokens",
    "Total_Tokens",
    "Chunks",
    "TTFT",
    "TPOT",
    "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "E2E(s)",
    "Total_Time(s)",
    "ITL(s)",
    "Backend",
    "Temperature",
    "Top_K",
    "Top_P",
    "Control_Method",
    "Growth_Rate",
    "Rounds",
    "Num_Prompts",
)
"""The per-request header. Times are seconds; `Start_Time`/`End_Time` are offsets from the load
point's start; `ITL(s)` is the space-separated list of gaps between content chunks."""


def summary_filename(provider: str, control_method: str, backend: str, stamp: str) -> str:
    """`summary_<provider>_<control>_<backend>_<time>.csv` (acs-bench naming)."""
    return f"summary_{provider}_{control_method}_{backend}_{stamp}.csv"


def requests_filename(
    provider: str,
    dataset: str,
    control_method: str,
    concurrency: int,
    backend: str,
    input_length: int,
    output_length: int,
    stamp: str,
) -> str:
    """`requests_<provider>_<dataset>_<control>_concurrency<N>_<backend>_input<L>_output<M>_<time>.csv`."""
    return (
        f"requests_{provider}_{dataset}_{control_method}_concurrency{concurrency}_{backend}"
        f"_input{input_length}_output{output_length}_{stamp}.csv"
    )


Cell = float | int | str | None


def _cell(value: Cell) -> str:
    if value is None:
        return str(MISSING)
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return str(MISSING)
        return repr(value)
    return str(value)


def append_summary_row(path: Path, row: Mapping[str, Cell]) -> None:
    """Append one load point's row, writing the header first when the file is new.

    Columns follow `SUMMARY_COLUMNS`, then any extra keys of `row` in their order; a column
    missing from `row` is written as `-1`. The file is flushed and closed per row, so a crash
    later in the run leaves every finished load point on disk.
    """
    extra = [key for key in row if key not in SUMMARY_COLUMNS]
    if path.exists() and path.stat().st_size > 0:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None) or []
        missing = [key for key in extra if key not in header]
        if missing:
            raise ValueError(f"{path}: row has columns {missing} that the existing header lacks")
        columns = header
        new = False
    else:
        columns = [*SUMMARY_COLUMNS, *extra]
        new = True
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(columns)
        writer.writerow([_cell(row.get(column)) for column in columns])


def write_requests(path: Path, rows: Sequence[Mapping[str, Cell]]) -> None:
    """Write one load point's per-request rows under `REQUEST_COLUMNS`."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in REQUEST_COLUMNS])


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _read(path: Path | str) -> list[dict[str, float | str]]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return [
            {key: _value(value) for key, value in record.items() if key is not None}
            for record in csv.DictReader(handle)
        ]


def read_summary(path: Path | str) -> list[dict[str, float | str]]:
    """Rows of a summary CSV keyed by header name; numeric cells as float (`-1` = no data)."""
    return _read(path)


def read_requests(path: Path | str) -> list[dict[str, float | str]]:
    """Rows of a requests CSV keyed by header name; numeric cells as float (`-1` = no data)."""
    return _read(path)


def _family_cells(
    family: str, dist: Distribution | None, percentiles: Sequence[float]
) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for q in percentiles:
        cells[f"TP{q:g}_{family}(s)"] = dist.at(q) if dist else None
    cells[f"MAX_{family}(s)"] = dist.maximum if dist else None
    cells[f"MIN_{family}(s)"] = dist.minimum if dist else None
    cells[f"AVG_{family}(s)"] = dist.mean if dist else None
    return cells


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1e3


def summary_row(
    meta: Mapping[str, Cell],
    summary: LoadPointSummary,
    server: ServerMetrics,
    harness_bottleneck: bool,
    percentiles: Sequence[float] = (50.0, 75.0, 90.0, 95.0, 99.0),
) -> dict[str, Cell]:
    """One summary row: `meta` (load point and sampling columns) plus the measured figures."""
    row: dict[str, Cell] = dict(meta)
    families = {
        "TTFT": summary.ttft,
        "TPOT": summary.tpot,
        "E2E": summary.e2e,
        "ITL": summary.itl,
        "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN": summary.first_two,
    }
    for family, dist in families.items():
        row.update(_family_cells(family, dist, percentiles))
    lag = summary.send_lag
    row.update(
        {
            "Num_Requests": summary.requests,
            "Total_Token_Throughput(tokens/s)": summary.total_throughput,
            "Output_Token_Throughput(tokens/s)": summary.output_throughput,
            "Total_Time(s)": summary.duration_s,
            "QPS": summary.qps,
            "Fail_Rate": summary.failure_ratio,
            "Success": summary.successes,
            "Failures": summary.failures,
            "Token_Mismatch": summary.token_mismatch,
            "TP50_Send_Lag(s)": lag.at(50.0) if lag else None,
            "TP99_Send_Lag(s)": lag.at(99.0) if lag else None,
            "MAX_Send_Lag(s)": lag.maximum if lag else None,
            "Achieved_Rate": summary.achieved_rate,
            "Harness_Bottleneck": int(harness_bottleneck),
            "AVG_PROMPT_TOKENS": summary.avg_prompt_tokens,
            "AVG_COMPLETION_TOKENS": summary.avg_completion_tokens,
            "AVG_SERVER_TTFT(ms)": _ms(server.ttft_s),
            "AVG_SERVER_TPOT(ms)": _ms(server.tpot_s),
            "AVG_SERVER_E2E(ms)": _ms(server.e2e_s),
            "AVG_SERVER_QUEUE_TIME(ms)": _ms(server.queue_s),
            "AVG_SERVER_PREFILL_TIME(ms)": _ms(server.prefill_s),
            "AVG_SERVER_DECODE_TIME(ms)": _ms(server.decode_s),
            "SERVER_PREEMPTIONS": server.preemptions,
        }
    )
    return row


def request_rows(
    records: Sequence[RequestRecord], origin_ns: int, meta: Mapping[str, Cell]
) -> list[dict[str, Cell]]:
    """Per-request rows; times in seconds, `Start_Time`/`End_Time` relative to `origin_ns`."""
    rows: list[dict[str, Cell]] = []
    for record in records:
        prompt, completion = record.prompt_tokens, record.completion_tokens
        total = prompt + completion if prompt is not None and completion is not None else None
        row: dict[str, Cell] = dict(meta)
        row.update(
            {
                "Request_Index": record.index,
                "Epoch": record.epoch,
                "Worker": record.worker,
                "Scheduled_Offset(s)": (record.scheduled_ns - origin_ns) / 1e9,
                "Start_Time": (record.start_ns - origin_ns) / 1e9,
                "End_Time": (record.end_ns - origin_ns) / 1e9,
                "Send_Lag(s)": record.send_lag_ns / 1e9,
                "Success": record.success,
                "HTTP_Status": record.http_status,
                "Error_Type": record.error_type or "",
                "Error_Message": record.error_message or "",
                "Prompt_Tokens": prompt,
                "Completion_Tokens": completion,
                "Total_Tokens": total,
                "Chunks": len(record.token_ns),
                "TTFT": ttft_s(record),
                "TPOT": tpot_s(record),
                "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)": first_two_s(record),
                "E2E(s)": e2e_s(record),
                "Total_Time(s)": (record.end_ns - record.start_ns) / 1e9,
                "ITL(s)": " ".join(f"{gap:.6f}" for gap in itl_s(record)),
            }
        )
        rows.append(row)
    return rows
