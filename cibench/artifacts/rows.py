"""Typed rows of the run directory's CSV files, with their acs-bench-compatible columns.

Headers live here and nowhere else: consumers use attributes (`point.ttft.p99`, `point.qps`),
never header strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from cibench.artifacts.codec import Column, CsvRow, decode_float, encode, label

FUNCTIONAL_FAILED_STATUSES = frozenset({"fail", "failed", "error"})
"""`functional.csv` statuses that count as a failure (`fail`; pytest's words accepted too)."""
FUNCTIONAL_SKIPPED_STATUSES = frozenset({"skip", "skipped", "xfail", "xfailed"})
"""Statuses of cases that did not run; any other status counts as a pass."""


class FunctionalCaseRow(CsvRow):
    """One row of a `functional*.csv`: one functional case's outcome."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("suite", "suite"),
        Column("case_id", "case_id"),
        Column("status", "status"),
        Column("reason", "reason"),
        Column("duration_s", "duration_s"),
    )
    suite: str = ""
    case_id: str = ""
    status: str = ""
    """`pass`, `fail` or `skip` (pytest's `failed`/`error`/`skipped`/`xfail` read too)."""
    reason: str = ""
    duration_s: float | None = None

    @field_validator("status")
    @classmethod
    def _lower_case(cls, status: str) -> str:
        return status.strip().lower()

    @property
    def failed(self) -> bool:
        """True for a failed or errored case."""
        return self.status in FUNCTIONAL_FAILED_STATUSES

    @property
    def skipped(self) -> bool:
        """True for a case that did not run (unsupported capability, deselected)."""
        return self.status in FUNCTIONAL_SKIPPED_STATUSES


class AccuracyRow(CsvRow):
    """One row of `accuracy.csv`: one dataset's score for the scenario."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("dataset", "dataset"),
        Column("variant", "variant"),
        Column("score", "score"),
        Column("std", "std"),
        Column("n", "n"),
        Column("threshold", "threshold"),
        Column("pass", "passed"),
        Column("model", "model"),
    )
    dataset: str = ""
    variant: str = ""
    score: float | None = None
    std: float | None = None
    n: int | None = None
    threshold: float | None = None
    passed: bool | None = None
    model: str = ""


@dataclass(frozen=True, slots=True)
class LoadPointKey:
    """What identifies one perf load point across runs (all values as label strings)."""

    control_method: str
    backend: str
    concurrency: str
    input_len: str
    output_len: str
    growth_rate: str = ""
    """Only for `climb`."""
    request_rate: str = ""
    """Only for `poisson` (requests/s)."""

    def labels(self) -> dict[str, str]:
        """Prometheus labels of this load point (empty values left out)."""
        pairs = {
            "backend": self.backend,
            "control_method": self.control_method,
            "concurrency": self.concurrency,
            "input_len": self.input_len,
            "output_len": self.output_len,
            "growth_rate": self.growth_rate,
            "request_rate": self.request_rate,
        }
        return {name: value for name, value in pairs.items() if value}

    def describe(self) -> str:
        """A short readable id such as `fixed/threading-pool c4 in128 out128`."""
        text = f"{self.control_method}/{self.backend} "
        if self.request_rate:
            text += f"r{self.request_rate} "
        text += f"c{self.concurrency} in{self.input_len} out{self.output_len}"
        if self.growth_rate:
            text += f" g{self.growth_rate}"
        return text

    def slug(self) -> str:
        """`describe()` as one file name, such as `fixed-threading-pool-c4-in128-out128`:
        unlike the acs-bench file names it tells Poisson points apart by their rate."""
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.describe()).strip("-")


DEFAULT_PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0)


class LatencyStats(BaseModel):
    """One latency family over a load point's requests, in seconds (None = no data)."""

    percentiles: dict[float, float | None] = Field(default_factory=dict)
    """Percentile (e.g. `99.0`, `99.9`) -> value."""
    max: float | None = None
    min: float | None = None
    avg: float | None = None

    def at(self, q: float) -> float | None:
        """The `q`th percentile, or None when not recorded."""
        return self.percentiles.get(float(q))

    @property
    def p50(self) -> float | None:
        return self.at(50)

    @property
    def p90(self) -> float | None:
        return self.at(90)

    @property
    def p99(self) -> float | None:
        return self.at(99)


LATENCY_FAMILIES: dict[str, str] = {
    "ttft": "TTFT",
    "tpot": "TPOT",
    "e2e": "E2E",
    "itl": "ITL",
    "first_two": "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN",
}
"""Summary row field -> the family's name in its `TP99_<FAMILY>(s)` columns."""
STATS = (("max", "MAX"), ("min", "MIN"), ("avg", "AVG"))
SERVER_FAMILIES: dict[str, str] = {
    "server_ttft_ms": "SERVER_TTFT",
    "server_tpot_ms": "SERVER_TPOT",
    "server_e2e_ms": "SERVER_E2E",
    "server_queue_time_ms": "SERVER_QUEUE_TIME",
    "server_prefill_time_ms": "SERVER_PREFILL_TIME",
    "server_decode_time_ms": "SERVER_DECODE_TIME",
}
"""Server-side means (from `/metrics` deltas), in ms: field -> family (`AVG_<FAMILY>(ms)`)."""


def _percentile_header(q: float, family: str) -> str:
    return f"TP{q:g}_{family}(s)"


def _family_headers(family: str) -> list[str]:
    stats = [f"{stat}_{family}(s)" for _, stat in STATS]
    return [_percentile_header(q, family) for q in DEFAULT_PERCENTILES] + stats


_PARAMETER_COLUMNS = (
    Column("Backend", "backend"),
    Column("Temperature", "temperature", sentinel=False),
    Column("Top_K", "top_k", sentinel=False),
    Column("Top_P", "top_p", sentinel=False),
    Column("Control_Method", "control_method"),
    Column("Growth_Rate", "growth_rate"),
    Column("Rounds", "rounds"),
    Column("Num_Prompts", "num_prompts"),
)
"""How each request was sent: the same columns in summary and request files. `-1` is a real
value in the sampling columns (`Top_K=-1`: top-k disabled), so they have no sentinel."""
_LEAD = (
    Column("Execution_Time", "execution_time"),
    Column("Scenario", "scenario"),
    Column("Model", "model"),
    Column("Input_Length", "input_length"),
    Column("Output_Length", "output_length"),
    Column("Concurrency", "concurrency"),
    Column("Request_Rate", "request_rate"),
    Column("Num_Requests", "num_requests"),
    Column("Total_Token_Throughput(tokens/s)", "total_token_throughput"),
    Column("Output_Token_Throughput(tokens/s)", "output_token_throughput"),
)
_TAIL = (
    Column("Total_Time(s)", "total_time_s"),
    Column("QPS", "qps"),
    Column("Fail_Rate", "fail_rate"),
    Column("Success", "success"),
    Column("Failures", "failures"),
    Column("Token_Mismatch", "token_mismatch"),
    Column("TP50_Send_Lag(s)", "send_lag_p50_s"),
    Column("TP99_Send_Lag(s)", "send_lag_p99_s"),
    Column("MAX_Send_Lag(s)", "send_lag_max_s"),
    Column("Achieved_Rate", "achieved_rate"),
    Column("Harness_Bottleneck", "harness_bottleneck"),
    *_PARAMETER_COLUMNS,
    Column("Provider", "provider"),
    Column("Dataset", "dataset"),
    Column("AVG_PROMPT_TOKENS", "avg_prompt_tokens"),
    Column("AVG_COMPLETION_TOKENS", "avg_completion_tokens"),
    *(Column(f"AVG_{family}(ms)", field) for field, family in SERVER_FAMILIES.items()),
    Column("SERVER_PREEMPTIONS", "server_preemptions"),
    # the harness-health verdict (cibench/perf/health.py)
    Column("TP99_Receive_Lag(s)", "receive_lag_p99_s"),
    Column("MAX_Receive_Lag(s)", "receive_lag_max_s"),
    Column("Schedule_Span(s)", "schedule_span_s"),
    Column("Completion_Span(s)", "completion_span_s"),
    Column("Completion_Allowance(s)", "completion_allowance_s"),
    Column("Harness_Reason", "harness_reason"),
    # goodput against the profile's per-request SLO
    Column("Goodput(req/s)", "goodput"),
    Column("Good_Requests", "good_requests"),
    Column("Goodput_SLO", "goodput_slo"),
    # how prompts were sized, and the server's usage.prompt_tokens - target
    Column("Sizing_Method", "sizing_method"),
    Column("AVG_Prompt_Token_Error", "prompt_token_error_avg"),
    Column("MAX_Prompt_Token_Error", "prompt_token_error_max"),
    Column("SERVER_PREFIX_CACHE_HIT_RATE", "server_prefix_cache_hit_rate"),
    # multi-turn sessions: first turns apart from later ones (-1 without a `session`)
    Column("Session_Turns", "session_turns"),
    Column("TP50_First_Turn_TTFT(s)", "first_turn_ttft_p50_s"),
    Column("TP99_First_Turn_TTFT(s)", "first_turn_ttft_p99_s"),
    Column("TP50_Later_Turn_TTFT(s)", "later_turn_ttft_p50_s"),
    Column("TP99_Later_Turn_TTFT(s)", "later_turn_ttft_p99_s"),
    Column("AVG_Later_Turn_Prompt_Tokens", "later_turn_prompt_tokens"),
)
RESOURCE_STEMS = (
    "CLIENT_CPU(%)",
    "CLIENT_RSS(MB)",
    "SERVER_CPU(%)",
    "SERVER_RSS(MB)",
    "GPU_UTIL(%)",
    "GPU_MEM(MB)",
    "GPU_POWER(W)",
    "SERVER_RUNNING",
    "SERVER_WAITING",
    "SERVER_KV_CACHE",
    "MONITOR_CPU(%)",
)
"""Resource-monitoring series in summary-column order (cibench.monitor.series names them)."""
RESOURCE_COLUMNS = tuple(f"{stat}_{stem}" for stem in RESOURCE_STEMS for stat in ("AVG", "MAX"))
"""`AVG_X` / `MAX_X` per series, after the failure-reason columns (docs/capacity.md)."""
_CIBENCH = (
    Column("Failure_Reasons", "failure_reasons"),
    Column("Server_Log_Matches", "server_log_matches"),
)
"""cibench's own columns, after every acs-bench column (and any extra percentile)."""
_MONITOR = (
    Column("Monitor_Samples", "monitor_samples"),
    Column("Monitor_Notes", "monitor_notes"),
)

SUMMARY_COLUMNS: tuple[str, ...] = (
    *(column.header for column in _LEAD),
    *(header for family in LATENCY_FAMILIES.values() for header in _family_headers(family)),
    *(column.header for column in _TAIL),
)
"""The summary header, one row per load point. Extra percentiles asked for by a profile
(e.g. `TP99.9_TTFT(s)`) are appended after these."""


class RequestParameters(CsvRow):
    """How each request of a load point was sent: repeated in summary and request rows."""

    backend: str = ""
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    control_method: str = ""
    growth_rate: float | None = None
    rounds: int | None = None
    num_prompts: int | None = None


class LoadPointParameters(RequestParameters):
    """What a load point was asked to do: the parameter columns of its summary row."""

    scenario: str = ""
    model: str = ""
    provider: str = ""
    dataset: str = ""
    input_length: int | None = None
    output_length: int | None = None
    concurrency: int | None = None
    request_rate: float | None = None


class PerfSummaryRow(LoadPointParameters):
    """One row of a perf `summary_*.csv`: one load point's parameters and measured figures."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (*_LEAD, *_TAIL, *_CIBENCH, *_MONITOR)
    execution_time: str = ""
    num_requests: int | None = None
    total_token_throughput: float | None = None
    output_token_throughput: float | None = None
    ttft: LatencyStats = Field(default_factory=LatencyStats)
    tpot: LatencyStats = Field(default_factory=LatencyStats)
    e2e: LatencyStats = Field(default_factory=LatencyStats)
    itl: LatencyStats = Field(default_factory=LatencyStats)
    first_two: LatencyStats = Field(default_factory=LatencyStats)
    """Time between the first and the second token."""
    total_time_s: float | None = None
    qps: float | None = None
    fail_rate: float | None = None
    success: int | None = None
    failures: int | None = None
    token_mismatch: int | None = None
    send_lag_p50_s: float | None = None
    send_lag_p99_s: float | None = None
    send_lag_max_s: float | None = None
    achieved_rate: float | None = None
    harness_bottleneck: bool | None = None
    avg_prompt_tokens: float | None = None
    avg_completion_tokens: float | None = None
    server_ttft_ms: float | None = None
    server_tpot_ms: float | None = None
    server_e2e_ms: float | None = None
    server_queue_time_ms: float | None = None
    server_prefill_time_ms: float | None = None
    server_decode_time_ms: float | None = None
    server_preemptions: float | None = None
    failure_reasons: str | None = None
    """Failed requests per reason class, `http_500=12;timeout_stall=3` (the top five); None for
    a file written before the column existed (then it is not written back either)."""
    server_log_matches: str = ""
    """Known error lines the server logged during the point, `cuda_oom=2 (first line) | ...`."""
    resources: dict[str, float | None] = Field(default_factory=dict)
    """Resource monitoring by `RESOURCE_COLUMNS` header; empty when monitoring was off."""
    monitor_samples: int | None = None
    monitor_notes: str = ""
    receive_lag_p99_s: float | None = None
    receive_lag_max_s: float | None = None
    schedule_span_s: float | None = None
    completion_span_s: float | None = None
    completion_allowance_s: float | None = None
    harness_reason: str = ""
    goodput: float | None = None
    good_requests: int | None = None
    goodput_slo: str = ""
    sizing_method: str = ""
    prompt_token_error_avg: float | None = None
    prompt_token_error_max: float | None = None
    server_prefix_cache_hit_rate: float | None = None
    session_turns: int | None = None
    first_turn_ttft_p50_s: float | None = None
    first_turn_ttft_p99_s: float | None = None
    later_turn_ttft_p50_s: float | None = None
    later_turn_ttft_p99_s: float | None = None
    later_turn_prompt_tokens: float | None = None

    @property
    def key(self) -> LoadPointKey:
        """What identifies this load point across runs."""
        return LoadPointKey(
            control_method=self.control_method,
            backend=self.backend,
            concurrency=label(self.concurrency),
            input_len=label(self.input_length),
            output_len=label(self.output_length),
            # Growth_Rate is written for fixed and poisson too, where it means nothing
            growth_rate=label(self.growth_rate) if self.control_method == "climb" else "",
            request_rate=label(self.request_rate),
        )

    @property
    def successes(self) -> float | None:
        """Successful requests: `Success`, else requests minus failures."""
        if self.success is not None:
            return self.success
        if self.num_requests is not None and self.failures is not None:
            return self.num_requests - self.failures
        return None

    def latency(self) -> dict[str, LatencyStats]:
        """Every latency family by its column name (`TTFT`, ..., `SERVER_TTFT`), in seconds;
        server families carry only their mean."""
        families = {family: getattr(self, field) for field, family in LATENCY_FAMILIES.items()}
        for field, family in SERVER_FAMILIES.items():
            value = getattr(self, field)
            # x * 0.001, not x / 1e3: the same float the exporter has always published
            families[family] = LatencyStats(avg=None if value is None else value * 0.001)
        return families

    @classmethod
    def extra_fields(cls, cells: Mapping[str, str]) -> dict[str, Any]:
        """The latency families, percentiles found by their `TP<q>_<FAMILY>(s)` headers."""
        fields: dict[str, Any] = {}
        for field, family in LATENCY_FAMILIES.items():
            stats: dict[str, Any] = {
                name: decode_float(cells.get(f"{stat}_{family}(s)")) for name, stat in STATS
            }
            percentiles: dict[float, float | None] = {}
            suffix = f"_{family}(s)"
            for header, cell in cells.items():
                if not (header.startswith("TP") and header.endswith(suffix)):
                    continue
                q = decode_float(header[2 : -len(suffix)], sentinel=False)
                if q is not None:
                    percentiles[q] = decode_float(cell)
            fields[field] = LatencyStats(percentiles=percentiles, **stats)
        if any(header in cells for header in RESOURCE_COLUMNS):
            fields["resources"] = {
                header: decode_float(cells.get(header)) for header in RESOURCE_COLUMNS
            }
        return fields

    def to_cells(self) -> dict[str, str]:
        """Cells in `SUMMARY_COLUMNS` order; extra percentiles after them."""
        cells = super().to_cells()
        extra: dict[str, str] = {}
        for field, family in LATENCY_FAMILIES.items():
            stats: LatencyStats = getattr(self, field)
            for q in DEFAULT_PERCENTILES:
                cells[_percentile_header(q, family)] = encode(stats.at(q))
            for q, value in stats.percentiles.items():
                if q not in DEFAULT_PERCENTILES:
                    extra[_percentile_header(q, family)] = encode(value)
            for name, stat in STATS:
                cells[f"{stat}_{family}(s)"] = encode(getattr(stats, name))
        ordered = {header: cells[header] for header in SUMMARY_COLUMNS}
        own = {}
        if self.failure_reasons is not None:
            own = {c.header: encode(getattr(self, c.field), sentinel=False) for c in _CIBENCH}
        if not self.resources and self.monitor_samples is None:
            return {**ordered, **extra, **own}
        resources = {header: encode(self.resources.get(header)) for header in RESOURCE_COLUMNS}
        monitor = {c.header: encode(getattr(self, c.field), sentinel=c.sentinel) for c in _MONITOR}
        return {**ordered, **extra, **own, **resources, **monitor}


class PerfRequestRow(RequestParameters):
    """One row of a perf `requests_*.csv`: one request. Times are seconds; `start_time` and
    `end_time` are offsets from the load point's start."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("Request_Index", "request_index"),
        Column("Epoch", "epoch"),
        Column("Worker", "worker"),
        Column("Scheduled_Offset(s)", "scheduled_offset_s"),
        Column("Start_Time", "start_time"),
        Column("End_Time", "end_time"),
        Column("Send_Lag(s)", "send_lag_s"),
        Column("Success", "success"),
        Column("HTTP_Status", "http_status"),
        Column("Error_Type", "error_type"),
        Column("Error_Message", "error_message"),
        Column("Prompt_Tokens", "prompt_tokens"),
        Column("Completion_Tokens", "completion_tokens"),
        Column("Total_Tokens", "total_tokens"),
        Column("Chunks", "chunks"),
        Column("TTFT", "ttft_s"),
        Column("TPOT", "tpot_s"),
        Column("TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)", "first_two_s"),
        Column("E2E(s)", "e2e_s"),
        Column("Total_Time(s)", "total_time_s"),
        Column("ITL(s)", "itl"),
        *_PARAMETER_COLUMNS,
        Column("Failure_Reason", "failure_reason"),
        Column("Error_Code", "error_code"),
        # the acs-bench names without a unit, again with it; absolute time
        Column("Start_Time(s)", "start_time_s"),
        Column("End_Time(s)", "end_time_s"),
        Column("TTFT(s)", "ttft_seconds"),
        Column("TPOT(s)", "tpot_seconds"),
        Column("Scheduled_Unix_Time(s)", "scheduled_unix_s"),
        Column("Start_Unix_Time(s)", "start_unix_s"),
        Column("End_Unix_Time(s)", "end_unix_s"),
        Column("Origin_Unix_Time(s)", "origin_unix_s"),
        Column("Origin_Perf_Counter(ns)", "origin_perf_counter_ns"),
        Column("Conversation", "conversation"),
        Column("Turn", "turn"),
    )
    request_index: int | None = None
    epoch: int | None = None
    worker: int | None = None
    scheduled_offset_s: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    send_lag_s: float | None = None
    success: bool | None = None
    http_status: int | None = None
    error_type: str = ""
    error_message: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    chunks: int | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    first_two_s: float | None = None
    e2e_s: float | None = None
    total_time_s: float | None = None
    itl: str = ""
    """Space-separated gaps between content chunks, in seconds."""
    failure_reason: str = ""
    """The reason class of a failed request (docs/capacity.md), empty for a success."""
    error_code: str = ""
    """The OpenAI error body's named `code`, else its `type`."""
    start_time_s: float | None = None
    end_time_s: float | None = None
    ttft_seconds: float | None = None
    tpot_seconds: float | None = None
    scheduled_unix_s: float | None = None
    start_unix_s: float | None = None
    end_unix_s: float | None = None
    origin_unix_s: float | None = None
    origin_perf_counter_ns: int | None = None
    conversation: int | None = None
    """Multi-turn sessions: the conversation (-1 otherwise)."""
    turn: int | None = None
    """Multi-turn sessions: the turn in its conversation, from 0 (-1 otherwise)."""

    @property
    def itl_s(self) -> list[float]:
        """The inter-token gaps as numbers."""
        return [float(gap) for gap in self.itl.split()]


REQUEST_COLUMNS: tuple[str, ...] = tuple(PerfRequestRow.header())
