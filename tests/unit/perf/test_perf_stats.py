"""Per-request metrics and load-point summaries against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from cibench.client.record import RequestRecord
from cibench.perf.stats import (
    distribution,
    e2e_s,
    first_two_s,
    itl_s,
    percentile,
    summarize,
    tpot_s,
    ttft_s,
)

MS = 1_000_000


def ok(
    start_ms: int,
    tokens_ms: list[int],
    completion: int | None,
    *,
    prompt: int | None = 10,
    end_ms: int | None = None,
    requested: int | None = None,
    ready_ms: int | None = None,
) -> RequestRecord:
    last = tokens_ms[-1] if tokens_ms else start_ms
    return RequestRecord(
        index=0,
        scheduled_ns=(ready_ms if ready_ms is not None else start_ms) * MS,
        ready_ns=(ready_ms if ready_ms is not None else start_ms) * MS,
        start_ns=start_ms * MS,
        end_ns=(end_ms if end_ms is not None else last + 1) * MS,
        token_ns=[t * MS for t in tokens_ms],
        prompt_tokens=prompt,
        completion_tokens=completion,
        requested_output_tokens=requested,
        success=True,
        http_status=200,
    )


def failed(start_ms: int, end_ms: int) -> RequestRecord:
    return RequestRecord(
        index=1,
        scheduled_ns=start_ms * MS,
        ready_ns=start_ms * MS,
        start_ns=start_ms * MS,
        end_ns=end_ms * MS,
        error_type="HTTP500",
        http_status=500,
    )


def test_ttft_e2e_and_tpot_of_one_streamed_request() -> None:
    # sent at 0, output chunks at 50, 60, 70, 80 ms, 4 completion tokens
    record = ok(0, [50, 60, 70, 80], completion=4)
    assert ttft_s(record) == pytest.approx(0.050)
    assert e2e_s(record) == pytest.approx(0.080)
    assert tpot_s(record) == pytest.approx((0.080 - 0.050) / 3)
    assert first_two_s(record) == pytest.approx(0.010)
    assert itl_s(record) == pytest.approx([0.010, 0.010, 0.010])


def test_tpot_excludes_the_first_token_and_counts_tokens_not_chunks() -> None:
    # two chunks, but usage says 5 tokens (e.g. speculative decoding): TPOT divides by 4
    record = ok(0, [40, 80], completion=5)
    assert tpot_s(record) == pytest.approx(0.040 / 4)
    assert itl_s(record) == pytest.approx([0.040])


@pytest.mark.parametrize("completion", [None, 0, 1])
def test_tpot_is_none_without_at_least_two_tokens(completion: int | None) -> None:
    assert tpot_s(ok(0, [30], completion=completion)) is None


def test_the_trailing_usage_chunk_does_not_move_e2e() -> None:
    record = ok(0, [20, 30], completion=2, end_ms=90)  # response ended at 90 ms
    assert e2e_s(record) == pytest.approx(0.030)


def test_failed_requests_have_no_latencies() -> None:
    record = failed(0, 10)
    assert ttft_s(record) is None
    assert e2e_s(record) is None
    assert tpot_s(record) is None
    assert first_two_s(record) is None
    assert itl_s(record) == []


def test_percentile_is_numpy_linear() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 75) == pytest.approx(3.25)
    assert percentile(values, 99) == pytest.approx(3.97)
    rng = np.random.default_rng(0)
    sample = list(rng.random(37))
    for q in (50, 90, 99.9):
        assert percentile(sample, q) == pytest.approx(float(np.percentile(sample, q)))


def test_no_data_is_none() -> None:
    assert percentile([], 50) is None
    assert distribution([]) is None


def test_distribution_of_a_single_value() -> None:
    dist = distribution([0.25])
    assert dist is not None
    assert dist.count == 1
    assert (dist.mean, dist.minimum, dist.maximum) == (0.25, 0.25, 0.25)
    assert all(value == 0.25 for value in dist.percentiles.values())


def test_distribution_of_five_values() -> None:
    dist = distribution([5.0, 1.0, 4.0, 2.0, 3.0], (50, 75, 90))
    assert dist is not None
    assert dist.mean == pytest.approx(3.0)
    assert (dist.minimum, dist.maximum) == (1.0, 5.0)
    assert dist.at(50) == pytest.approx(3.0)
    assert dist.at(75) == pytest.approx(4.0)
    assert dist.at(90) == pytest.approx(4.6)
    assert dist.at(99) is None


def test_summary_of_three_requests_one_failed() -> None:
    records = [
        ok(0, [50, 60, 70], completion=3, prompt=10, requested=3),
        ok(100, [140, 160, 180], completion=3, prompt=12, requested=3, end_ms=200),
        failed(150, 400),
    ]
    summary = summarize(records, requested_rate=None)
    assert (summary.requests, summary.successes, summary.failures) == (3, 2, 1)
    assert summary.failure_ratio == pytest.approx(1 / 3)
    assert summary.duration_s == pytest.approx(0.400)  # last end 400 ms − first start 0
    assert summary.qps == pytest.approx(2 / 0.400)
    assert summary.output_throughput == pytest.approx(6 / 0.400)
    assert summary.total_throughput == pytest.approx((6 + 22) / 0.400)
    assert summary.ttft is not None
    assert summary.ttft.mean == pytest.approx((0.050 + 0.040) / 2)
    assert summary.tpot is not None
    assert summary.tpot.at(50) == pytest.approx((0.010 + 0.020) / 2)
    assert summary.itl is not None
    assert summary.itl.count == 4  # ITL gaps are pooled over requests
    assert summary.avg_prompt_tokens == pytest.approx(11.0)
    assert summary.avg_completion_tokens == pytest.approx(3.0)
    assert summary.token_mismatch == 0
    assert summary.errors == {"HTTP500": 1}
    assert summary.achieved_rate == pytest.approx(2 / 0.150)  # (3 − 1) sends over 150 ms


def test_token_mismatch_counts_successes_whose_usage_differs() -> None:
    records = [
        ok(0, [10, 20], completion=2, requested=4),
        ok(0, [10, 20], completion=4, requested=4),
        ok(0, [10, 20], completion=None, requested=4),  # no usage: nothing to compare
    ]
    assert summarize(records).token_mismatch == 1


def test_summary_of_nothing_is_all_none() -> None:
    summary = summarize([])
    assert summary.requests == 0
    assert summary.failure_ratio is None
    assert summary.duration_s is None
    assert summary.qps is None
    assert summary.ttft is None
    assert summary.achieved_rate is None


def test_summary_when_every_request_failed_reports_no_latency() -> None:
    summary = summarize([failed(0, 5), failed(1, 7)])
    assert summary.failure_ratio == 1.0
    assert summary.ttft is None
    assert summary.qps == 0.0
    assert summary.output_throughput is None
