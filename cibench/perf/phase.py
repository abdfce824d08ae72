"""What a backend executes: the target, phases (requests + schedule) and a progress counter,
and the `Backend` protocol every way of sending requests implements."""

from __future__ import annotations

import gc
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest, ResponseTimer
from cibench.perf.schedule import Schedule

__all__ = [
    "Address",
    "Backend",
    "BeforePhase",
    "Conversation",
    "EncodeTurn",
    "Phase",
    "Progress",
    "SessionScript",
    "Settler",
    "all_sent",
    "no_gc",
]

SETTLE_BUDGET_BYTES = 256 * 1024 * 1024
"""Raw response bytes kept unparsed until a phase ends; past this, responses parse at once."""

BeforePhase = Callable[[int], int | None]
"""Called with the phase's position just before its clock starts (e.g. to scrape /metrics);
may return an agreed absolute start (`Phase.start_ns`) for the phase."""


@dataclass(frozen=True, slots=True)
class Address:
    """Where a backend's connections go: host, port, TLS and the request timeout, nothing else.

    Not another "where the server is" type: it is the network part of a `RunTarget`
    (`cibench.perf.target`), made per load point by `runner.run_point`. The send loops need no
    URL, model or auth header (those are in the encoded request bytes), and this small frozen
    value pickles cheaply into worker processes (`workers.execute_in_processes`). `secret` (the
    API key) is only used to blank it out of error text.
    """

    host: str
    port: int
    timeout_s: float
    secret: str | None = field(default=None, repr=False)
    tls: bool = False

    def tls_context(self) -> ssl.SSLContext | None:
        """The client TLS context for an https target (system trust store), else None."""
        return ssl.create_default_context() if self.tls else None


EncodeTurn = Callable[[Sequence[dict[str, str]], int], bytes]
"""(chat messages so far, output tokens) -> the HTTP request bytes of one session turn."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """One multi-turn session's script: the user turn and the output length of every turn
    (the server's answers join the history as they arrive)."""

    user_turns: tuple[str, ...]
    output_tokens: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SessionScript:
    """The conversations of one session phase. Turn bodies are encoded while the phase runs
    (each carries the answers so far), between the previous answer and the turn's due time."""

    conversations: Sequence[Conversation]
    turns: int
    think_time_s: float
    encode: EncodeTurn
    stream: bool = True
    exact_output: bool = True
    """Record each turn's requested output length (`ignore_eos`), to check completions."""
    epoch: int = 0

    @property
    def request_count(self) -> int:
        """Requests the phase sends: conversations x turns."""
        return len(self.conversations) * self.turns


@dataclass(frozen=True, slots=True)
class Phase:
    """Requests sent under one schedule (a warmup, or one epoch of a load point). A session
    phase has no prepared requests: its schedule starts conversations (`sessions`)."""

    requests: Sequence[PreparedRequest]
    schedule: Schedule
    label: str = ""
    sessions: SessionScript | None = None
    start_ns: int = 0
    """An absolute `perf_counter_ns` start several processes agreed on (`workers`), so their
    shares of one schedule run on one clock; 0: start just after the phase is handed over."""

    def start_or(self, lead_ns: int) -> int:
        """When the schedule's offset 0 is: `start_ns`, else `lead_ns` from now."""
        return self.start_ns or time.perf_counter_ns() + lead_ns

    @property
    def request_count(self) -> int:
        """How many requests the phase sends (every turn of every conversation)."""
        return len(self.requests) if self.sessions is None else self.sessions.request_count


@dataclass(slots=True)
class Progress:
    """Counters a monitor thread may read while a phase runs (approximate under threads)."""

    phase: str = ""
    total: int = 0
    done: int = 0
    failed: int = 0

    def reset(self, phase: Phase) -> None:
        """Start counting a new phase."""
        self.phase = phase.label
        self.total = phase.request_count
        self.done = 0
        self.failed = 0

    def count(self, timer: ResponseTimer) -> None:
        """One request finished (in-band stream errors show only once the phase has ended)."""
        self.done += 1
        if timer.looks_failed:
            self.failed += 1


class Settler:
    """Holds finished responses unparsed while a phase runs, so no request's measurement waits
    behind another's parsing; parses them all once the phase ends. Beyond `budget_bytes` of
    held bytes, a response is parsed as soon as it ends instead."""

    def __init__(self, budget_bytes: int = SETTLE_BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._held: list[ResponseTimer] = []
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, timer: ResponseTimer) -> None:
        """Keep `timer` for later, or settle it now when the budget is spent."""
        with self._lock:
            if self._bytes + timer.pending_bytes <= self._budget:
                self._bytes += timer.pending_bytes
                self._held.append(timer)
                return
        timer.settle()

    def settle_all(self) -> None:
        """Parse every held response (after the phase's clock has stopped)."""
        with self._lock:
            held, self._held, self._bytes = self._held, [], 0
        for timer in held:
            timer.settle()


@contextmanager
def no_gc() -> Iterator[None]:
    """Keep the cyclic garbage collector from pausing the process inside a timed phase."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def all_sent(records: Sequence[RequestRecord | None], who: str) -> list[RequestRecord]:
    """The phase's records; a slot left empty means `who` (the backend) lost a request."""
    missing = [index for index, record in enumerate(records) if record is None]
    if missing:
        raise RuntimeError(f"{who} left {len(missing)} requests unsent: {missing[:5]}")
    return [record for record in records if record is not None]


class Backend(Protocol):
    """One way of sending requests (`threading-pool`, `asyncio`). The phase loop
    (`cibench.perf.backends.execute`) owns the rest: warming before each phase's clock starts,
    the `/metrics` scrape hook, progress, deferred parsing and the garbage collector."""

    name: str

    def connect(self, count: int) -> None:
        """Have `count` open connections ready before the phase starts (raises OSError when the
        server cannot be reached; each request then records its own failure)."""

    def send(
        self, phase: Phase, progress: Progress, settler: Settler
    ) -> list[RequestRecord | None]:
        """Send the phase's requests on its schedule; one record per request, in order."""

    def close(self) -> None:
        """Close every connection (after the last phase)."""
