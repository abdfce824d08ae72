"""Receive-side lag probes: how long code that is ready to run waits before it runs.

A response's bytes are timestamped by the first code that runs once they are readable (a
worker thread returning from `recv`, or the event loop's `data_received`). When the client
process is busy (GIL contention from many threads, a long callback on the event loop, CPU
starved by another process), that code runs late and every latency it stamps is inflated.
Socket timestamps cannot show this from inside Python, so a probe measures the same delay
directly: it asks to wake at a known time and records how late it actually woke.

- `LagProbe` runs a thread (the threading-pool's readers are threads: the delay a thread waits
  for the GIL and a CPU is theirs too);
- `watch_loop` adds a coroutine on the asyncio backend's event loop (a callback that holds the
  loop delays every other stream's `data_received`).

Both write `(wake time, lateness)` pairs into one `LagProbe`; the runner keeps the samples
that fall inside the measured phases.
"""

from __future__ import annotations

import asyncio
import threading
import time

__all__ = ["PROBE_INTERVAL_S", "LagProbe", "watch_loop"]

PROBE_INTERVAL_S = 0.005
"""How often a probe asks to wake: 200 wake-ups a second, negligible next to the load."""


class LagProbe:
    """Collects wake-up lateness samples from a probe thread and optional loop watchers."""

    def __init__(self, interval_s: float = PROBE_INTERVAL_S) -> None:
        """Stores the interval; the thread starts with `start()` (or `with probe:`)."""
        self.interval_s = interval_s
        self._samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, woke_ns: int, late_ns: int) -> None:
        """One sample: the probe woke at `woke_ns`, `late_ns` after it asked to."""
        self._samples.append((woke_ns, max(0, late_ns)))

    def _run(self) -> None:
        interval_ns = int(self.interval_s * 1e9)
        clock = time.perf_counter_ns
        due = clock() + interval_ns
        while not self._stop.is_set():
            remaining = due - clock()
            if remaining > 0:
                time.sleep(remaining / 1e9)
            now = clock()
            self.add(now, now - due)
            due = max(due + interval_ns, now + interval_ns // 2)

    def start(self) -> LagProbe:
        """Start the probe thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="cibench-lag-probe", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and join the probe thread (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LagProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def samples(self) -> list[tuple[int, int]]:
        """Every `(woke ns, late ns)` sample so far (to merge probes of several processes)."""
        return list(self._samples)

    def lags_s(self, from_ns: int, to_ns: int) -> list[float]:
        """Lateness in seconds of every sample that woke within `[from_ns, to_ns]`."""
        return [late / 1e9 for woke, late in list(self._samples) if from_ns <= woke <= to_ns]


async def watch_loop(probe: LagProbe, stop: asyncio.Event) -> None:
    """Sample the running event loop's lag into `probe` until `stop` is set.

    asyncio rounds timer waits up to whole milliseconds, so an idle loop shows up to ~1 ms.
    """
    interval_ns = int(probe.interval_s * 1e9)
    clock = time.perf_counter_ns
    while not stop.is_set():
        due = clock() + interval_ns
        await asyncio.sleep(probe.interval_s)
        now = clock()
        probe.add(now, now - due)
