"""The `asyncio` backend: one event loop, one keep-alive connection per in-flight request.

Session phases (multi-turn conversations) run in `cibench.perf.sessions`.

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
from cibench.perf.aloop import START_LEAD_NS, Slots, open_loop, sleep_until
from cibench.perf.phase import Address, Phase, Progress, Settler
from cibench.perf.probe import LagProbe, watch_loop
from cibench.perf.sessions import run_sessions

__all__ = ["AsyncioBackend"]


async def _closed_loop(
    phase: Phase, pool: AsyncPool, progress: Progress, settler: Settler
) -> list[RequestRecord | None]:
    requests = phase.requests
    total = len(requests)
    records: list[RequestRecord | None] = [None] * total
    counter = itertools.count()
    start_ns = phase.start_or(START_LEAD_NS)

    async def work(worker: int, offset_s: float) -> None:
        free = start_ns + int(offset_s * 1e9)
        await sleep_until(free)
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
    slots = Slots(phase.schedule.cap)

    async def one(index: int, due: int, ready: int) -> None:
        record = requests[index].new_record(index, due, ready)
        try:
            timer = await pool.send(requests[index], record)
        finally:
            slots.release(record.end_ns or time.perf_counter_ns())
        settler.add(timer)
        records[index] = record
        progress.count(timer)

    await open_loop(phase.schedule.arrival_offsets, slots, one, phase.start_or(START_LEAD_NS))
    return records


class AsyncioBackend:
    """The asyncio backend on its own event loop, kept across phases with its connections."""

    name = "asyncio"

    def __init__(self, target: Address) -> None:
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
        if phase.sessions is not None:
            work = run_sessions(phase, self._pool, progress)
        else:
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
