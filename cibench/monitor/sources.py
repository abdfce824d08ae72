"""Where samples come from: psutil (client process, server process tree), NVML (GPUs) and a
server's Prometheus `/metrics` gauges. Each source returns a partial sample and never raises
while load runs: a source that cannot work says why once, in `note`."""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

import httpx
import psutil

__all__ = ["GpuSource", "MetricsSource", "ProcessSource", "parse_gauges"]

GAUGES: dict[str, str] = {
    "vllm:num_requests_running": "server_running_requests",
    "vllm:num_requests_waiting": "server_waiting_requests",
    "vllm:kv_cache_usage_perc": "server_kv_cache_usage_ratio",
    "vllm:gpu_cache_usage_perc": "server_kv_cache_usage_ratio",
    "llamacpp:requests_processing": "server_running_requests",
    "llamacpp:requests_deferred": "server_waiting_requests",
    "llamacpp:kv_cache_usage_ratio": "server_kv_cache_usage_ratio",
}
"""Server gauges → series (vLLM V1 and older names, llama.cpp's); label sets are summed."""

TREE_REFRESH = 10
"""Samples between two looks for new processes in the server's tree."""

_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(?P<value>\S+)")


def parse_gauges(text: str) -> dict[str, float]:
    """The known gauges of a Prometheus text page as series values (a cheap line scan, so
    scraping every second stays cheap next to the server's histograms)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#" or (not line.startswith(("vllm:", "llamacpp:"))):
            continue
        match = _LINE.match(line)
        if match is None or match["name"] not in GAUGES:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        series = GAUGES[match["name"]]
        found[series] = found.get(series, 0.0) + value
    return found


class ProcessSource:
    """CPU (percent of one core) and RSS of this process, and of a server's process tree."""

    def __init__(self, server_pid: int | None) -> None:
        self._client = psutil.Process(os.getpid())
        self._client.cpu_percent()  # the first call only starts the measurement
        self._server_pid = server_pid
        self._tree: dict[int, psutil.Process] = {}
        self._samples = 0
        self.note = ""

    def sample(self) -> dict[str, float]:
        """One reading of both."""
        values = {
            "client_cpu_percent": self._client.cpu_percent(),
            "client_memory_bytes": float(self._client.memory_info().rss),
        }
        if self._server_pid is not None:
            values.update(self._server())
        return values

    def _server(self) -> dict[str, float]:
        # finding children walks all of /proc: do it every TREE_REFRESH samples, not each one
        self._samples += 1
        members = list(self._tree.values())
        if not members or self._samples % TREE_REFRESH == 1:
            try:
                root = self._tree.get(self._server_pid or 0) or psutil.Process(self._server_pid)
                members = [root, *root.children(recursive=True)]
            except psutil.Error:
                self.note = self.note or "server process gone"
                return {}
        cpu = rss = 0.0
        alive: dict[int, psutil.Process] = {}
        for process in members:
            known = self._tree.get(process.pid, process)  # keep the object: cpu_percent is a delta
            try:
                with known.oneshot():
                    cpu += known.cpu_percent()
                    rss += known.memory_info().rss
            except psutil.Error:
                continue
            alive[process.pid] = known
        self._tree = alive
        return {"server_cpu_percent": cpu, "server_memory_bytes": rss}


class GpuSource:
    """Utilisation, memory and power of every NVIDIA GPU via NVML; absent GPUs give a note."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        self.note = ""
        try:
            import pynvml  # optional `gpu` extra (nvidia-ml-py)
        except ImportError:
            self.note = "GPU not sampled: nvidia-ml-py is not installed (pip install cibench[gpu])"
            return
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError as exc:
            self.note = f"GPU not sampled: NVML unavailable ({exc})"
            return
        if not self._handles:
            self.note = "GPU not sampled: NVML found no GPU"
            return
        self._nvml = pynvml

    def sample(self) -> dict[str, float]:
        """Mean utilisation, summed memory used and power over all GPUs."""
        if self._nvml is None:
            return {}
        nvml = self._nvml
        util = memory = power = 0.0
        try:
            for handle in self._handles:
                util += nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                memory += nvml.nvmlDeviceGetMemoryInfo(handle).used
                power += nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        except nvml.NVMLError as exc:
            self.note = self.note or f"GPU sampling failed ({exc})"
            return {}
        return {
            "gpu_utilization_percent": util / len(self._handles),
            "gpu_memory_bytes": memory,
            "gpu_power_watts": power,
        }

    def close(self) -> None:
        """Release NVML."""
        if self._nvml is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()
            self._nvml = None


class MetricsSource:
    """The server's `/metrics` gauges (running, waiting, KV-cache usage)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        # plain http needs no CA bundle (loading one costs ~0.3 s of CPU)
        verify = base_url.startswith("https://")
        self._client = httpx.Client(timeout=0.5, headers=headers, verify=verify)
        self._url = f"{base_url}/metrics"
        self.note = ""

    def sample(self) -> dict[str, float]:
        """One scrape; empty when the server has no `/metrics` or did not answer in time."""
        try:
            response = self._client.get(self._url)
        except httpx.HTTPError as exc:
            self.note = self.note or f"/metrics not sampled ({type(exc).__name__})"
            return {}
        if response.status_code != 200:
            self.note = self.note or f"/metrics not sampled (HTTP {response.status_code})"
            return {}
        return parse_gauges(response.text)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
