"""The `asyncio` backend: one event loop, one keep-alive connection per in-flight request.

Closed loop: one coroutine per worker, activated at its offset. Open loop: a dispatcher sleeps
to each arrival time (absolute, so lateness never accumulates) and starts a task, waiting for
a slot first when the schedule has a cap. asyncio's epoll timer rounds sleeps up to whole
milliseconds, so open-loop sends leave up to ~1 ms after their due time; that shows as send
lag and never inside a latency, because every latency starts at the actual send.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine

from cibench.client.aconnection import AsyncPool
from cibench.client.record import RequestRecord
from cibench.perf.phase import Phase, Progress, Settler, Target
from cibench.perf.probe import LagProbe, watch_loop

__all__ = ["AsyncioBackend"]

_START_LEAD_NS = 2_000_000


async def _sleep_until(deadline_ns: int) -> None:
    remaining = deadline_ns - time.perf_counter_ns()
    if remaining > 0:
        await asyncio.sleep(remaining / 1e9)


async def _closed_loop(
    phase: Phase, pool: AsyncPool, progress: Progress, settler: Settler
) -> list[RequestRecord | None]:
    requests = phase.requests
    total = len(requests)
    records: list[RequestRecord | None] = [None] * total
    counter = itertools.count()
    start_ns = time.perf_counter_ns() + _START_LEAD_NS

    async def work(worker: int, offset_s: float) -> None:
        free = start_ns + int(offset_s * 1e9)
        await _sleep_until(free)
        while (index := next(counter)) < total:
            request = requests[index]
            record = request.new_record(worker, free, free)
            timer = await pool.send(request, record)
            settler.add(timer)
            records[index] = record
            progress.count(timer)
            # the next request is due the moment this one ended: bookkeeping counts as lateness
            free = record.end_ns or time.perf_counter_ns()

    await asyncio.gather(*(work(w, off) for w, off in enumerate(phase.schedule.worker_offsets)))
    return records


async def _open_loop(
    phase: Phase, pool: AsyncPool, progress: Progress, settler: Settler
) -> list[RequestRecord | None]:
    requests = phase.requests
    records: list[RequestRecord | None] = [None] * len(requests)
    cap = phase.schedule.cap
    slots = asyncio.Semaphore(cap) if cap else None
    tasks: set[asyncio.Task[None]] = set()
    released: list[int] = []  # when slots freed while the dispatcher waited for one

    async def one(index: int, record: RequestRecord) -> None:
        try:
            timer = await pool.send(requests[index], record)
        finally:
            if slots is not None:
                released.append(record.end_ns or time.perf_counter_ns())
                slots.release()
        settler.add(timer)
        records[index] = record
        progress.count(timer)

    start_ns = time.perf_counter_ns() + _START_LEAD_NS
    for index, offset in enumerate(phase.schedule.arrival_offsets):
        due = start_ns + int(offset * 1e9)
        await _sleep_until(due)
        ready = due
        if slots is not None and slots.locked():
            # the cap holds the request back on purpose until a slot frees; the loop's delay
            # in waking the dispatcher after that is lateness
            released.clear()
            await slots.acquire()
            ready = max(due, released[0] if released else time.perf_counter_ns())
        elif slots is not None:
            await slots.acquire()
        record = requests[index].new_record(index, due, ready)
        task = asyncio.create_task(one(index, record))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
    return records


class AsyncioBackend:
    """The asyncio backend on its own event loop, kept across phases with its connections."""

    name = "asyncio"

    def __init__(self, target: Target) -> None:
        self.probe: LagProbe | None = None
        """Set by the phase loop to sample this event loop's lag (receive-side health)."""
        self._loop = asyncio.new_event_loop()
        self._pool = AsyncPool(
            target.host, target.port, target.timeout_s, target.secret, target.tls_context()
        )

    def connect(self, count: int) -> None:
        self._loop.run_until_complete(self._pool.warm(count))

    def send(
        self, phase: Phase, progress: Progress, settler: Settler
    ) -> list[RequestRecord | None]:
        loop = _open_loop if phase.schedule.open_loop else _closed_loop
        work = loop(phase, self._pool, progress, settler)
        return self._loop.run_until_complete(self._watched(work))

    async def _watched(
        self, work: Coroutine[None, None, list[RequestRecord | None]]
    ) -> list[RequestRecord | None]:
        """Run `work` while a coroutine samples the event loop's lag into `self.probe`."""
        if self.probe is None:
            return await work
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_loop(self.probe, stop))
        try:
            return await work
        finally:
            stop.set()
            await watcher

    def close(self) -> None:
        try:
            self._pool.close()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()
