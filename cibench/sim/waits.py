"""Precise asyncio waits: a microsecond-resolution event loop and latency-compensated sleeps.

Two effects make a plain `asyncio.sleep` to a deadline late: the epoll selector rounds every
timeout up to a whole millisecond (up to +1 ms, +0.5 ms on average), and waking an idle CPU
takes time (0.05 ms on bare metal, 0.2-0.5 ms in VMs). `HiResEpollSelector` removes the first
by waiting on the epoll descriptor with `select()` (microsecond timeouts); `Waker` removes the
average of the second by waking early by a running estimate of the wake-up latency.
"""

from __future__ import annotations

import asyncio
import select
import selectors
from collections.abc import Callable

# the estimate never leads by more than this, so a burst of slow wake-ups cannot make tokens
# leave much earlier than their deadlines
_MAX_LEAD_S = 0.001
_EWMA_WEIGHT = 0.05


if hasattr(selectors, "EpollSelector"):

    class HiResEpollSelector(selectors.EpollSelector):
        """An epoll selector whose timeouts have microsecond instead of millisecond resolution."""

        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is not None and timeout > 0:
                # select() takes a timeval; the epoll fd is readable when any watched fd is
                select.select([self.fileno()], [], [], timeout)
                timeout = 0
            return super().select(timeout)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop using `HiResEpollSelector` where epoll exists, else the default loop."""
    if hasattr(selectors, "EpollSelector"):
        return asyncio.SelectorEventLoop(HiResEpollSelector())
    return asyncio.new_event_loop()


class Waker:
    """Sleeps until absolute deadlines, leading by the observed average wake-up latency."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """:param clock: the event loop's clock (`loop.time`, i.e. `time.monotonic`)."""
        self._clock = clock
        self.lead_s = 0.0

    def due(self, deadline_s: float) -> bool:
        """Whether acting now is closer to `deadline_s` than sleeping again would be."""
        return deadline_s - self._clock() <= self.lead_s

    async def sleep_toward(self, deadline_s: float) -> None:
        """Sleep once toward `deadline_s` (callers loop until `due`) and learn the latency."""
        target = deadline_s - self.lead_s
        await asyncio.sleep(max(0.0, target - self._clock()))
        late = self._clock() - target
        # the lead converges on the mean latency of timer wake-ups
        estimate = self.lead_s + (late - self.lead_s) * _EWMA_WEIGHT
        self.lead_s = min(_MAX_LEAD_S, max(0.0, estimate))
