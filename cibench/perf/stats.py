"""Per-request metrics and per-load-point summaries (pure arithmetic over `RequestRecord`s).

Definitions (seconds; failed requests are excluded from every latency and token figure):
TTFT = first chunk carrying content, reasoning or a tool-call delta − send; E2E = last such
chunk − send (the trailing usage chunk does not move it; non-streamed: response end − send);
TPOT = (E2E − TTFT) / (completion_tokens − 1), None when completion_tokens <= 1; ITL = every
gap between consecutive content chunks, pooled over requests; first-two = second − first
content chunk. Percentiles are numpy's "linear" method (as vLLM). No data is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from cibench.client.record import RequestRecord

__all__ = [
    "Distribution",
    "LoadPointSummary",
    "TurnTtft",
    "distribution",
    "e2e_s",
    "first_two_s",
    "goodput",
    "itl_s",
    "meets_slo",
    "percentile",
    "summarize",
    "tpot_s",
    "ttft_s",
    "turn_ttft",
]

NS = 1e9
DEFAULT_PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0)


def ttft_s(record: RequestRecord) -> float | None:
    """Time to the first chunk carrying output; None for failures and non-streamed requests."""
    if not record.success or not record.token_ns:
        return None
    return (record.token_ns[0] - record.start_ns) / NS


def e2e_s(record: RequestRecord) -> float | None:
    """Time to the last output chunk (streamed) or to the response end (non-streamed)."""
    if not record.success:
        return None
    last = record.token_ns[-1] if record.token_ns else record.end_ns
    return (last - record.start_ns) / NS


def tpot_s(record: RequestRecord) -> float | None:
    """(E2E − TTFT) / (completion_tokens − 1); None without usage or with <= 1 token."""
    ttft = ttft_s(record)
    e2e = e2e_s(record)
    tokens = record.completion_tokens
    if ttft is None or e2e is None or tokens is None or tokens <= 1:
        return None
    return (e2e - ttft) / (tokens - 1)


def first_two_s(record: RequestRecord) -> float | None:
    """Time between the first and the second output chunk."""
    if not record.success or len(record.token_ns) < 2:
        return None
    return (record.token_ns[1] - record.token_ns[0]) / NS


def itl_s(record: RequestRecord) -> list[float]:
    """Gaps between consecutive output chunks of a successful request."""
    if not record.success:
        return []
    times = record.token_ns
    return [(later - earlier) / NS for earlier, later in pairwise(times)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q, method="linear"))


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary of one metric over a load point: count, mean, min, max and percentiles."""

    count: int
    mean: float
    minimum: float
    maximum: float
    percentiles: dict[float, float] = field(default_factory=dict)

    def at(self, q: float) -> float | None:
        """The q-th percentile if it was computed."""
        return self.percentiles.get(q)


def distribution(
    values: Sequence[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES
) -> Distribution | None:
    """Summarise `values`; None when there are none."""
    if not values:
        return None
    array = np.asarray(values, dtype=float)
    qs = sorted(set(percentiles))
    points = np.percentile(array, qs, method="linear") if qs else []
    return Distribution(
        count=len(values),
        mean=float(array.mean()),
        minimum=float(array.min()),
        maximum=float(array.max()),
        percentiles={q: float(v) for q, v in zip(qs, points, strict=True)},
    )


@dataclass(frozen=True, slots=True)
class LoadPointSummary:
    """Everything measured at one load point, in seconds, tokens and requests per second."""

    requests: int
    successes: int
    failures: int
    failure_ratio: float | None
    duration_s: float | None
    qps: float | None
    output_throughput: float | None
    total_throughput: float | None
    ttft: Distribution | None
    tpot: Distribution | None
    e2e: Distribution | None
    itl: Distribution | None
    first_two: Distribution | None
    send_lag: Distribution | None
    client_queue: Distribution | None
    requested_rate: float | None
    achieved_rate: float | None
    token_mismatch: int
    avg_prompt_tokens: float | None
    avg_completion_tokens: float | None
    errors: dict[str, int] = field(default_factory=dict)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _present(values: Sequence[float | None]) -> list[float]:
    return [value for value in values if value is not None]


def summarize(
    records: Sequence[RequestRecord],
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    requested_rate: float | None = None,
) -> LoadPointSummary:
    """Summarise one load point's measured records (warmup already excluded).

    Duration is last end − first start over all records; QPS and throughputs count successful
    requests and their `usage` tokens over that duration. The achieved rate is
    (sent − 1) / (last send − first send). Token mismatch counts successes whose usage
    `completion_tokens` differs from the requested length (requests without usage are not
    counted: there is nothing to compare).
    """
    ok = [record for record in records if record.success]
    count = len(records)
    duration = None
    if records:
        span_ns = max(r.end_ns for r in records) - min(r.start_ns for r in records)
        duration = span_ns / NS if span_ns > 0 else None
    prompt = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    completion = [r.completion_tokens for r in ok if r.completion_tokens is not None]
    starts = sorted(r.start_ns for r in records)
    achieved = None
    if len(starts) >= 2 and starts[-1] > starts[0]:
        achieved = (len(starts) - 1) / ((starts[-1] - starts[0]) / NS)
    errors: dict[str, int] = {}
    for record in records:
        if not record.success:
            key = record.error_type or "Unknown"
            errors[key] = errors.get(key, 0) + 1
    return LoadPointSummary(
        requests=count,
        successes=len(ok),
        failures=count - len(ok),
        failure_ratio=(count - len(ok)) / count if count else None,
        duration_s=duration,
        qps=len(ok) / duration if duration else None,
        output_throughput=sum(completion) / duration if duration and completion else None,
        total_throughput=(sum(prompt) + sum(completion)) / duration
        if duration and (prompt or completion)
        else None,
        ttft=distribution(_present([ttft_s(r) for r in ok]), percentiles),
        tpot=distribution(_present([tpot_s(r) for r in ok]), percentiles),
        e2e=distribution(_present([e2e_s(r) for r in ok]), percentiles),
        itl=distribution([gap for r in ok for gap in itl_s(r)], percentiles),
        first_two=distribution(_present([first_two_s(r) for r in ok]), percentiles),
        send_lag=distribution([r.send_lag_ns / NS for r in records], percentiles),
        client_queue=distribution([r.client_queue_ns / NS for r in records], percentiles),
        requested_rate=requested_rate,
        achieved_rate=achieved,
        token_mismatch=sum(
            1
            for r in ok
            if r.requested_output_tokens is not None
            and r.completion_tokens is not None
            and r.completion_tokens != r.requested_output_tokens
        ),
        avg_prompt_tokens=_mean(prompt),
        avg_completion_tokens=_mean(completion),
        errors=errors,
    )


def meets_slo(
    record: RequestRecord,
    ttft_limit_s: float | None = None,
    tpot_limit_s: float | None = None,
    e2e_limit_s: float | None = None,
) -> bool:
    """True when `record` succeeded and met every limit given (None: not judged).

    A limit on a figure the request does not have (TTFT of a non-streamed request) is not
    met; TPOT is not judged where it has none (a 1-token output, or no `usage`).
    """
    if not record.success:
        return False
    ttft, e2e = ttft_s(record), e2e_s(record)
    if ttft_limit_s is not None and (ttft is None or ttft > ttft_limit_s):
        return False
    if e2e_limit_s is not None and (e2e is None or e2e > e2e_limit_s):
        return False
    tpot = tpot_s(record)
    return tpot_limit_s is None or tpot is None or tpot <= tpot_limit_s


def goodput(good: int, duration_s: float | None) -> float | None:
    """Good requests per second over the load point's duration (None without a duration)."""
    return good / duration_s if duration_s else None


@dataclass(frozen=True, slots=True)
class TurnTtft:
    """Multi-turn sessions: TTFT of first turns apart from later turns (whose prompt carries
    the history), and the later turns' mean prompt tokens."""

    first: Distribution | None
    later: Distribution | None
    later_prompt_tokens: float | None


def turn_ttft(
    records: Sequence[RequestRecord], percentiles: Sequence[float] = DEFAULT_PERCENTILES
) -> TurnTtft | None:
    """First-turn and later-turn TTFT over successful session records (None: no sessions)."""
    turns = [r for r in records if r.turn is not None]
    if not turns:
        return None
    ok = [r for r in turns if r.success]
    later = [r for r in ok if r.turn]
    prompt = [r.prompt_tokens for r in later if r.prompt_tokens is not None]
    return TurnTtft(
        first=distribution(_present([ttft_s(r) for r in ok if r.turn == 0]), percentiles),
        later=distribution(_present([ttft_s(r) for r in later]), percentiles),
        later_prompt_tokens=_mean(prompt),
    )
