"""Timing pieces every asyncio sender shares: absolute sleeps, the open-loop dispatcher and
its optional in-flight cap (used by the asyncio backend and by multi-turn sessions)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence

__all__ = ["START_LEAD_NS", "Slots", "open_loop", "sleep_until"]

START_LEAD_NS = 2_000_000
"""A phase's clock starts this far after the call, so the first sends are not late."""

Launch = Callable[[int, int, int], Coroutine[None, None, None]]
"""(index, due ns, ready ns) -> the coroutine that sends arrival `index`."""


async def sleep_until(deadline_ns: int) -> None:
    """Sleep to an absolute `perf_counter_ns` time (so lateness never accumulates)."""
    remaining = deadline_ns - time.perf_counter_ns()
    if remaining > 0:
        await asyncio.sleep(remaining / 1e9)


class Slots:
    """An open loop's optional in-flight cap (0 = none) that remembers when slots freed."""

    def __init__(self, cap: int) -> None:
        self._semaphore = asyncio.Semaphore(cap) if cap else None
        self._released: list[int] = []

    async def acquire(self, due_ns: int) -> int:
        """Wait for a slot; returns when the arrival was ready to go: its due time, or when
        a slot freed after it. The cap holds an arrival back on purpose; the loop's delay in
        waking the dispatcher after that is lateness."""
        semaphore = self._semaphore
        if semaphore is None:
            return due_ns
        if not semaphore.locked():
            await semaphore.acquire()
            return due_ns
        self._released.clear()
        await semaphore.acquire()
        freed = self._released[0] if self._released else time.perf_counter_ns()
        return max(due_ns, freed)

    def release(self, at_ns: int) -> None:
        """Free a slot (its holder ended at `at_ns`)."""
        if self._semaphore is not None:
            self._released.append(at_ns)
            self._semaphore.release()


async def open_loop(offsets: Sequence[float], slots: Slots, launch: Launch, start_ns: int) -> None:
    """Start `launch(i, due, ready)` at each arrival offset (seconds from `start_ns`), holding
    arrivals back while `slots` is full; returns when every launched coroutine has ended. A
    launched coroutine must release its slot."""
    tasks: set[asyncio.Task[None]] = set()
    for index, offset in enumerate(offsets):
        due = start_ns + int(offset * 1e9)
        await sleep_until(due)
        ready = await slots.acquire(due)
        task = asyncio.create_task(launch(index, due, ready))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
