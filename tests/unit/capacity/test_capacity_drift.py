"""Soak drift maths on hand-made windows."""

from __future__ import annotations

import pytest

from cibench.capacity.drift import detect_drift, slope


def windows(**series: list[float | None]) -> list[dict[str, float | None]]:
    count = len(next(iter(series.values())))
    return [{name: values[i] for name, values in series.items()} for i in range(count)]


def by_metric(found: list) -> dict:  # type: ignore[type-arg]
    return {d.metric: d for d in found}


def test_slope_is_the_median_pairwise_slope() -> None:
    assert slope([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert slope([2.0, 2.0, 2.0]) == 0.0
    assert slope([5.0]) == 0.0
    assert slope([1.0, 1.0, 1.0, 1.0, 9.0]) == 0.0  # one outlier does not tilt it


def test_latency_growing_steadily_is_drift() -> None:
    found = by_metric(detect_drift(windows(tpot_p50_s=[0.010, 0.012, 0.014, 0.016]), 0.2, 0.01))
    drift = found["tpot_p50_s"]
    assert drift.drifted
    assert drift.change == pytest.approx(0.6)
    assert drift.trend == pytest.approx(0.6)
    assert drift.describe() == "tpot_p50_s +60% (0.01 -> 0.016, trend +60%)"


def test_one_noisy_last_window_against_a_flat_trend_is_not_drift() -> None:
    found = by_metric(detect_drift(windows(ttft_p99_s=[0.1, 0.1, 0.1, 0.1, 0.1, 0.13]), 0.2, 0.01))
    assert found["ttft_p99_s"].change == pytest.approx(0.3)
    assert found["ttft_p99_s"].trend == 0.0
    assert not found["ttft_p99_s"].drifted


def test_throughput_drifts_downwards_and_failures_by_absolute_rise() -> None:
    found = by_metric(
        detect_drift(
            windows(output_throughput=[1000, 900, 700], failure_ratio=[0.0, 0.01, 0.05]), 0.2, 0.01
        )
    )
    assert found["output_throughput"].drifted
    assert found["failure_ratio"].drifted
    assert found["failure_ratio"].change == pytest.approx(0.05)


def test_improvement_and_missing_data_are_not_drift() -> None:
    found = by_metric(
        detect_drift(windows(e2e_p99_s=[1.0, 0.5], server_memory_bytes=[None, 5.0]), 0.2, 0.01)
    )
    assert not found["e2e_p99_s"].drifted
    assert not found["server_memory_bytes"].drifted
    assert found["server_memory_bytes"].describe() == "server_memory_bytes no data"
