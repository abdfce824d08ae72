"""The monitored series: their names, units, summary-CSV columns and per-point statistics.

Pure: a sample is a dict of series name to value (a series absent from a sample was not
available then); `point_stats` reduces a load point's samples to avg/max per series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SERIES", "Series", "point_stats", "summary_cells"]


@dataclass(frozen=True, slots=True)
class Series:
    """One monitored quantity: `name` (metric stem), summary column stem and unit."""

    name: str
    column: str
    unit: str
    description: str

    def metric(self, stat: str) -> str:
        """The metric name of one statistic: `server_cpu_avg_percent`, `server_running_max`."""
        for suffix in ("_percent", "_bytes", "_watts", "_ratio"):
            if self.name.endswith(suffix):
                return f"{self.name.removesuffix(suffix)}_{stat}{suffix}"
        return f"{self.name}_{stat}"


SERIES: tuple[Series, ...] = (
    Series("client_cpu_percent", "CLIENT_CPU", "%", "load generator process CPU (100 = one core)"),
    Series("client_memory_bytes", "CLIENT_RSS", "MB", "load generator resident memory"),
    Series("server_cpu_percent", "SERVER_CPU", "%", "server process tree CPU (local scenarios)"),
    Series("server_memory_bytes", "SERVER_RSS", "MB", "server process tree resident memory"),
    Series("gpu_utilization_percent", "GPU_UTIL", "%", "GPU utilisation, mean over GPUs (NVML)"),
    Series("gpu_memory_bytes", "GPU_MEM", "MB", "GPU memory used, summed over GPUs (NVML)"),
    Series("gpu_power_watts", "GPU_POWER", "W", "GPU power draw, summed over GPUs (NVML)"),
    Series("server_running_requests", "SERVER_RUNNING", "", "requests running (/metrics)"),
    Series("server_waiting_requests", "SERVER_WAITING", "", "requests waiting (/metrics)"),
    Series("server_kv_cache_usage_ratio", "SERVER_KV_CACHE", "", "KV-cache usage 0-1 (/metrics)"),
    Series("monitor_cpu_percent", "MONITOR_CPU", "%", "CPU the sampler itself used"),
)
"""Every series, in summary-column order. Memory is sampled in bytes and shown in MB."""

_MB = 1024 * 1024


def _column(series: Series, stat: str) -> str:
    unit = f"({series.unit})" if series.unit else ""
    return f"{stat}_{series.column}{unit}"


def point_stats(samples: Sequence[Mapping[str, float]]) -> dict[str, tuple[float, float]]:
    """(average, maximum) per series over the samples that carry it."""
    stats: dict[str, tuple[float, float]] = {}
    for series in SERIES:
        values = [sample[series.name] for sample in samples if series.name in sample]
        if values:
            stats[series.name] = (sum(values) / len(values), max(values))
    return stats


def summary_cells(stats: Mapping[str, tuple[float, float]]) -> dict[str, float | None]:
    """`AVG_X(unit)` and `MAX_X(unit)` per series (None when never sampled); bytes as MB."""
    cells: dict[str, float | None] = {}
    for series in SERIES:
        found = stats.get(series.name)
        scale = 1 / _MB if series.unit == "MB" else 1.0
        cells[_column(series, "AVG")] = None if found is None else found[0] * scale
        cells[_column(series, "MAX")] = None if found is None else found[1] * scale
    return cells


def column_series(column: str) -> tuple[Series, str, float] | None:
    """The series, stat (`avg`/`max`) and scale to base units behind a summary column."""
    for series in SERIES:
        for stat in ("AVG", "MAX"):
            if column == _column(series, stat):
                return series, stat.lower(), float(_MB) if series.unit == "MB" else 1.0
    return None
