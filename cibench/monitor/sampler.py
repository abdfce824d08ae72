"""`ResourceSampler`: a side thread that takes one sample of every source per interval while
a load point runs, on one clock, and keeps the timeline."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

from cibench.monitor.sources import GpuSource, MetricsSource, ProcessSource

__all__ = ["ResourceSampler", "Timeline"]


@dataclass(slots=True)
class Timeline:
    """Samples (offset from the start in seconds, values) and what could not be sampled."""

    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ResourceSampler:
    """Samples every `interval_s` seconds from `start()` (first sample at once) to `stop()`.

    :param server_pid: root of a local server's process tree (None: not sampled).
    :param metrics_url: the server's base URL for `/metrics` (None: not scraped).
    """

    def __init__(
        self,
        interval_s: float,
        server_pid: int | None = None,
        metrics_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.interval_s = interval_s
        self._server_pid = server_pid
        self._metrics_url = metrics_url
        self._headers = headers or {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.timeline = Timeline()

    def __enter__(self) -> ResourceSampler:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the sampling thread."""
        self._thread = threading.Thread(target=self._run, name="cibench-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (takes a last sample) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        processes = ProcessSource(self._server_pid)
        gpus = GpuSource()
        metrics = MetricsSource(self._metrics_url, self._headers) if self._metrics_url else None
        started = time.monotonic()
        tick = 0
        try:
            while True:
                cpu_before = time.thread_time()
                sample = processes.sample()
                sample.update(gpus.sample())
                if metrics is not None:
                    sample.update(metrics.sample())
                # the sampler's own cost, in percent of one core over its interval
                cost = time.thread_time() - cpu_before
                sample["monitor_cpu_percent"] = 100.0 * cost / self.interval_s
                self.timeline.samples.append((time.monotonic() - started, sample))
                tick += 1
                # absolute deadlines: a slow sample never shifts the later ones
                delay = started + tick * self.interval_s - time.monotonic()
                if self._stop.wait(max(0.0, delay)):
                    break
        finally:
            gpus.close()
            if metrics is not None:
                metrics.close()
            sources = (processes, gpus, metrics)
            self.timeline.notes = [s.note for s in sources if s is not None and s.note]
