"""The `asyncio` backend: one event loop, one keep-alive connection per in-flight request.

Closed loop: one coroutine per worker, activated at its offset. Open loop: a dispatcher sleeps
to each arrival time (absolute, so lateness never accumulates) and starts a task, waiting for
a slot first when the schedule has a cap. asyncio's epoll timer rounds sleeps up to whole
milliseconds, so open-loop sends leave up to ~1 ms after their due time; that shows as send
lag and never inside a latency, because every latency starts at the actual send.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Sequence

from cibench.client.aconnection import AsyncPool
from cibench.client.record import RequestRecord
from cibench.perf.phase import (
    BeforePhase,
    Phase,
    Progress,
    Settler,
    Target,
    all_sent,
    no_gc,
)

__all__ = ["run_phases"]

_UNCAPPED_WARM_CONNECTIONS = 16
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
            free = time.perf_counter_ns()

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

    async def one(index: int, record: RequestRecord) -> None:
        try:
            timer = await pool.send(requests[index], record)
        finally:
            if slots is not None:
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
            await slots.acquire()
            ready = max(due, time.perf_counter_ns())
        elif slots is not None:
            await slots.acquire()
        record = requests[index].new_record(index, due, ready)
        task = asyncio.create_task(one(index, record))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
    return records


async def _run(
    target: Target,
    phases: Sequence[Phase],
    progress: Progress,
    before_phase: BeforePhase | None,
) -> list[list[RequestRecord]]:
    pool = AsyncPool(
        target.host, target.port, target.timeout_s, target.secret, target.tls_context()
    )
    results: list[list[RequestRecord]] = []
    try:
        for position, phase in enumerate(phases):
            wanted = phase.schedule.connections_to_open(
                len(phase.requests), _UNCAPPED_WARM_CONNECTIONS
            )
            with contextlib.suppress(OSError):  # each request will record the failure to connect
                await pool.warm(wanted)
            if before_phase is not None:
                before_phase(position)
            progress.reset(phase)
            settler = Settler()
            with no_gc():
                if phase.schedule.open_loop:
                    records = await _open_loop(phase, pool, progress, settler)
                else:
                    records = await _closed_loop(phase, pool, progress, settler)
            settler.settle_all()
            results.append(all_sent(records, "asyncio workers"))
    finally:
        pool.close()
    return results


def run_phases(
    target: Target,
    phases: Sequence[Phase],
    progress: Progress,
    before_phase: BeforePhase | None = None,
) -> list[list[RequestRecord]]:
    """Run every phase on a fresh event loop; connections stay open from phase to phase."""
    return asyncio.run(_run(target, phases, progress, before_phase))
