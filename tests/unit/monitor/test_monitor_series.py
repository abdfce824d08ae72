"""Resource series: per-point statistics, summary columns, metric names, gauge parsing."""

from __future__ import annotations

import pytest

from cibench.artifacts.rows import RESOURCE_COLUMNS
from cibench.monitor.series import SERIES, column_series, point_stats, summary_cells
from cibench.monitor.sources import parse_gauges

VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
vllm:num_requests_waiting{engine="0",model_name="m"} 7.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:num_preemptions_total{engine="0",model_name="m"} 4.0
vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="m"} 0.0
"""


def test_vllm_gauges_are_summed_over_label_sets() -> None:
    assert parse_gauges(VLLM_METRICS) == {
        "server_running_requests": 5.0,
        "server_waiting_requests": 7.0,
        "server_kv_cache_usage_ratio": 0.25,
    }


def test_llamacpp_gauges_map_to_the_same_series() -> None:
    text = "llamacpp:requests_processing 2\nllamacpp:requests_deferred 1\nother 9\n"
    assert parse_gauges(text) == {"server_running_requests": 2.0, "server_waiting_requests": 1.0}


def test_stats_are_average_and_maximum_over_the_samples_that_have_the_series() -> None:
    samples = [
        {"server_cpu_percent": 50.0, "client_memory_bytes": 2 * 1024 * 1024},
        {"server_cpu_percent": 150.0},
    ]
    stats = point_stats(samples)
    assert stats == {"server_cpu_percent": (100.0, 150.0), "client_memory_bytes": (2097152.0,) * 2}
    cells = summary_cells(stats)
    assert cells["AVG_SERVER_CPU(%)"] == 100.0
    assert cells["MAX_CLIENT_RSS(MB)"] == 2.0
    assert cells["AVG_GPU_UTIL(%)"] is None  # never sampled: no data, not 0
    assert len(cells) == 2 * len(SERIES)


@pytest.mark.parametrize(
    ("column", "metric", "scale"),
    [
        ("AVG_SERVER_CPU(%)", "server_cpu_avg_percent", 1.0),
        ("MAX_CLIENT_RSS(MB)", "client_memory_max_bytes", 1024.0 * 1024.0),
        ("MAX_SERVER_RUNNING", "server_running_requests_max", 1.0),
        ("AVG_GPU_POWER(W)", "gpu_power_avg_watts", 1.0),
        ("MAX_SERVER_KV_CACHE", "server_kv_cache_usage_max_ratio", 1.0),
    ],
)
def test_summary_columns_map_back_to_metrics(column: str, metric: str, scale: float) -> None:
    found = column_series(column)
    assert found is not None
    series, stat, factor = found
    assert (series.metric(stat), factor) == (metric, scale)


def test_other_columns_are_not_resource_columns() -> None:
    assert column_series("TP99_TTFT(s)") is None


def test_the_summary_row_model_knows_every_resource_column() -> None:
    assert tuple(summary_cells({})) == RESOURCE_COLUMNS
