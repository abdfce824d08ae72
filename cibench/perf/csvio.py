"""acs-bench-compatible `requests_*.csv` / `summary_*.csv` files: names, columns, writing, reading.

Consumers read these files by header name (`read_summary`), never by position. "No data" is
`None` in memory and `-1` on disk.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

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
    "requests_filename",
    "summary_filename",
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


def _read(path: Path) -> list[dict[str, float | str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {key: _value(value) for key, value in record.items() if key is not None}
            for record in csv.DictReader(handle)
        ]


def read_summary(path: Path) -> list[dict[str, float | str]]:
    """Rows of a summary CSV keyed by header name; numeric cells as float (`-1` = no data)."""
    return _read(path)


def read_requests(path: Path) -> list[dict[str, float | str]]:
    """Rows of a requests CSV keyed by header name; numeric cells as float (`-1` = no data)."""
    return _read(path)
