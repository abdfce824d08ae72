"""A load point's measurements as typed artifact rows (`PerfSummaryRow`, `PerfRequestRow`).

The perf stage builds the rows here; `cibench.artifacts.ScenarioWriter.record_load_point`
writes them as acs-bench-compatible `summary_*.csv` / `requests_*.csv`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cibench.artifacts import LatencyStats, PerfRequestRow, PerfSummaryRow
from cibench.artifacts.rows import LoadPointParameters, RequestParameters
from cibench.client.record import RequestRecord
from cibench.failures.reasons import failure_reason
from cibench.perf.health import Health
from cibench.perf.server_metrics import ServerMetrics
from cibench.perf.stats import (
    DEFAULT_PERCENTILES,
    Distribution,
    LoadPointSummary,
    e2e_s,
    first_two_s,
    itl_s,
    tpot_s,
    ttft_s,
)

__all__ = ["request_rows", "summary_row"]


def latency_stats(dist: Distribution | None, percentiles: Sequence[float]) -> LatencyStats:
    """A distribution's percentiles, extremes and mean (all None without data)."""
    if dist is None:
        return LatencyStats(percentiles={float(q): None for q in percentiles})
    return LatencyStats(
        percentiles={float(q): dist.at(q) for q in percentiles},
        max=dist.maximum,
        min=dist.minimum,
        avg=dist.mean,
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1e3


def summary_row(
    params: LoadPointParameters,
    summary: LoadPointSummary,
    server: ServerMetrics,
    health: Health,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    execution_time: str = "",
) -> PerfSummaryRow:
    """One load point's summary row: its parameters plus the measured figures."""
    lag = summary.send_lag
    return PerfSummaryRow(
        execution_time=execution_time,
        **params.model_dump(),
        num_requests=summary.requests,
        total_token_throughput=summary.total_throughput,
        output_token_throughput=summary.output_throughput,
        ttft=latency_stats(summary.ttft, percentiles),
        tpot=latency_stats(summary.tpot, percentiles),
        e2e=latency_stats(summary.e2e, percentiles),
        itl=latency_stats(summary.itl, percentiles),
        first_two=latency_stats(summary.first_two, percentiles),
        total_time_s=summary.duration_s,
        qps=summary.qps,
        fail_rate=summary.failure_ratio,
        success=summary.successes,
        failures=summary.failures,
        token_mismatch=summary.token_mismatch,
        send_lag_p50_s=lag.at(50.0) if lag else None,
        send_lag_p99_s=lag.at(99.0) if lag else None,
        send_lag_max_s=lag.maximum if lag else None,
        achieved_rate=summary.achieved_rate,
        harness_bottleneck=health.harness_bound,
        receive_lag_p99_s=health.receive_lag_p99_s,
        receive_lag_max_s=health.receive_lag_max_s,
        schedule_span_s=health.schedule_span_s,
        completion_span_s=health.completion_span_s,
        completion_allowance_s=health.completion_allowance_s,
        harness_reason="+".join(health.codes),
        server_prefix_cache_hit_rate=server.prefix_cache_hit_rate,
        avg_prompt_tokens=summary.avg_prompt_tokens,
        avg_completion_tokens=summary.avg_completion_tokens,
        server_ttft_ms=_ms(server.ttft_s),
        server_tpot_ms=_ms(server.tpot_s),
        server_e2e_ms=_ms(server.e2e_s),
        server_queue_time_ms=_ms(server.queue_s),
        server_prefill_time_ms=_ms(server.prefill_s),
        server_decode_time_ms=_ms(server.decode_s),
        server_preemptions=server.preemptions,
    )


def request_rows(
    records: Sequence[RequestRecord],
    origin_ns: int,
    params: LoadPointParameters,
    server_exited: bool = False,
    anchor: tuple[int, int] | None = None,
) -> list[PerfRequestRow]:
    """Per-request rows; times in seconds, `start_time`/`end_time` relative to `origin_ns`.

    :param server_exited: the local server had exited by the end of the load point (connection
        failures are then classed `server_crash`, see `cibench/failures/reasons.py`).
    :param anchor: (Unix time ns, perf_counter ns) read together (`runinfo.clock_anchor`),
        for the absolute-time columns; without it they are -1.
    """

    def unix(perf_ns: int) -> float | None:
        return None if anchor is None else (anchor[0] + perf_ns - anchor[1]) / 1e9

    rows: list[PerfRequestRow] = []
    for record in records:
        prompt, completion = record.prompt_tokens, record.completion_tokens
        total = prompt + completion if prompt is not None and completion is not None else None
        rows.append(
            PerfRequestRow(
                request_index=record.index,
                epoch=record.epoch,
                worker=record.worker,
                scheduled_offset_s=(record.scheduled_ns - origin_ns) / 1e9,
                start_time=(record.start_ns - origin_ns) / 1e9,
                end_time=(record.end_ns - origin_ns) / 1e9,
                send_lag_s=record.send_lag_ns / 1e9,
                success=record.success,
                http_status=record.http_status,
                error_type=record.error_type or "",
                error_message=record.error_message or "",
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=total,
                chunks=len(record.token_ns),
                ttft_s=ttft_s(record),
                tpot_s=tpot_s(record),
                first_two_s=first_two_s(record),
                e2e_s=e2e_s(record),
                total_time_s=(record.end_ns - record.start_ns) / 1e9,
                itl=" ".join(f"{gap:.6f}" for gap in itl_s(record)),
                failure_reason=failure_reason(record, server_exited) or "",
                error_code=record.error_code or "",
                start_time_s=(record.start_ns - origin_ns) / 1e9,
                end_time_s=(record.end_ns - origin_ns) / 1e9,
                ttft_seconds=ttft_s(record),
                tpot_seconds=tpot_s(record),
                scheduled_unix_s=unix(record.scheduled_ns),
                start_unix_s=unix(record.start_ns),
                end_unix_s=unix(record.end_ns),
                origin_unix_s=unix(origin_ns),
                origin_perf_counter_ns=origin_ns,
                conversation=record.conversation,
                turn=record.turn,
                **params.model_dump(include=set(RequestParameters.model_fields)),
            )
        )
    return rows
