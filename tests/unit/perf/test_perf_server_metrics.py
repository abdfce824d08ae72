"""Server-side means from two /metrics scrapes: vLLM histograms, llama.cpp counters, nothing."""

from __future__ import annotations

import pytest

from cibench.perf.server_metrics import ServerMetrics, parse_totals, server_metrics


def vllm(ttft_sum: float, count: int, queue_sum: float, preemptions: float) -> str:
    return f"""# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{{le="+Inf",model_name="m"}} {count}
vllm:time_to_first_token_seconds_sum{{model_name="m"}} {ttft_sum}
vllm:time_to_first_token_seconds_count{{model_name="m"}} {count}
# TYPE vllm:request_queue_time_seconds histogram
vllm:request_queue_time_seconds_sum{{model_name="m"}} {queue_sum}
vllm:request_queue_time_seconds_count{{model_name="m"}} {count}
# TYPE vllm:num_preemptions counter
vllm:num_preemptions_total{{model_name="m"}} {preemptions}
"""


def test_vllm_means_are_histogram_deltas() -> None:
    before = vllm(ttft_sum=1.0, count=10, queue_sum=0.5, preemptions=2)
    after = vllm(ttft_sum=1.6, count=14, queue_sum=0.9, preemptions=5)
    metrics = server_metrics(before, after, requests=4)
    assert metrics.ttft_s == pytest.approx(0.6 / 4)
    assert metrics.queue_s == pytest.approx(0.4 / 4)
    assert metrics.preemptions == 3
    assert metrics.e2e_s is None  # not exported here


def test_no_new_requests_means_no_mean() -> None:
    text = vllm(1.0, 10, 0.5, 0)
    assert server_metrics(text, text, requests=0).ttft_s is None


def test_label_sets_are_summed() -> None:
    text = 'x_total{a="1"} 2\nx_total{a="2"} 3\n'
    assert parse_totals(text)["x_total"] == 5


def test_llamacpp_counters_map_to_tpot_and_prefill() -> None:
    def text(predicted: int, predicted_s: float, prompt_s: float) -> str:
        return (
            "# TYPE llamacpp:tokens_predicted_total counter\n"
            f"llamacpp:tokens_predicted_total {predicted}\n"
            "# TYPE llamacpp:tokens_predicted_seconds_total counter\n"
            f"llamacpp:tokens_predicted_seconds_total {predicted_s}\n"
            "# TYPE llamacpp:prompt_seconds_total counter\n"
            f"llamacpp:prompt_seconds_total {prompt_s}\n"
        )

    metrics = server_metrics(text(100, 2.0, 1.0), text(300, 6.0, 3.0), requests=4)
    assert metrics.tpot_s == pytest.approx(4.0 / 200)
    assert metrics.prefill_s == pytest.approx(2.0 / 4)
    assert metrics.ttft_s is None


def test_missing_scrape_or_unknown_server_gives_nothing() -> None:
    assert server_metrics(None, "x_total 1\n", 1) == ServerMetrics()
    assert server_metrics("x_total 1\n", "x_total 2\n", 1) == ServerMetrics()
