"""The `threading-pool` backend: real threads, each worker with its own blocking connection.

Closed loop (fixed, climb): one thread per worker, started at its activation offset, sending
the next unsent request as soon as its previous one ends. Open loop (poisson): the calling
thread sleeps to each arrival time and hands the request to an idle worker thread, starting a
new one when none is idle (up to the cap).
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time

from cibench.client.connection import BlockingConnection
from cibench.client.record import RequestRecord
from cibench.perf.phase import Address, Phase, Progress, Settler

__all__ = ["ThreadBackend"]

_UNCAPPED_START_WORKERS = 16
"""Open-loop worker threads started before an uncapped phase (more join on demand)."""
_START_LEAD_NS = 5_000_000


def _sleep_until(deadline_ns: int) -> None:
    remaining = deadline_ns - time.perf_counter_ns()
    if remaining > 0:
        time.sleep(remaining / 1e9)


class _Connections:
    """Idle connections kept between phases so a phase starts on warm, open sockets."""

    def __init__(self, target: Address) -> None:
        self._target = target
        self._tls = target.tls_context()
        self._idle: list[BlockingConnection] = []
        self._lock = threading.Lock()

    def warm(self, count: int) -> None:
        while len(self._idle) < count:
            connection = self._new()
            connection.connect()
            self._idle.append(connection)

    def _new(self) -> BlockingConnection:
        target = self._target
        return BlockingConnection(
            target.host, target.port, target.timeout_s, target.secret, self._tls
        )

    def take(self) -> BlockingConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new()

    def give(self, connection: BlockingConnection) -> None:
        with self._lock:
            self._idle.append(connection)

    def close(self) -> None:
        with self._lock:
            for connection in self._idle:
                connection.close()
            self._idle.clear()


def _closed_loop(
    phase: Phase, connections: _Connections, progress: Progress, settler: Settler
) -> list[RequestRecord | None]:
    requests = phase.requests
    offsets = phase.schedule.worker_offsets
    records: list[RequestRecord | None] = [None] * len(requests)
    counter = itertools.count()
    total = len(requests)
    start_ns = phase.start_or(_START_LEAD_NS + 50_000 * len(offsets))

    def work(worker: int, offset_s: float) -> None:
        connection = connections.take()
        with contextlib.suppress(OSError):  # the first send records the connect failure
            connection.connect()
        free = start_ns + int(offset_s * 1e9)
        _sleep_until(free)
        while (index := next(counter)) < total:
            request = requests[index]
            record = request.new_record(worker, free, free)
            timer = connection.send(request, record)
            settler.add(timer)
            records[index] = record
            progress.count(timer)
            # the next request is due the moment this one ended: bookkeeping counts as lateness
            free = record.end_ns or time.perf_counter_ns()
        connections.give(connection)

    threads = [
        threading.Thread(target=work, args=(w, off), name=f"cibench-w{w}", daemon=True)
        for w, off in enumerate(offsets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


class _OpenLoop:
    """Dispatcher plus a growing set of worker threads for one open-loop phase."""

    def __init__(
        self, phase: Phase, connections: _Connections, progress: Progress, settler: Settler
    ) -> None:
        self.phase = phase
        self.connections = connections
        self.progress = progress
        self.settler = settler
        self.records: list[RequestRecord | None] = [None] * len(phase.requests)
        self.inbox: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0
        self.threads: list[threading.Thread] = []

    def spawn(self) -> None:
        worker = len(self.threads)
        thread = threading.Thread(
            target=self.work, args=(worker,), name=f"cibench-w{worker}", daemon=True
        )
        self.threads.append(thread)
        with self.lock:
            self.idle += 1
        thread.start()

    def work(self, worker: int) -> None:
        connection = self.connections.take()
        with contextlib.suppress(OSError):  # the first send records the connect failure
            connection.connect()
        requests = self.phase.requests
        capped = bool(self.phase.schedule.cap)
        free = time.perf_counter_ns()
        while (item := self.inbox.get()) is not None:
            with self.lock:
                self.idle -= 1
            index, scheduled = item
            request = requests[index]
            # only an in-flight cap may hold a request back on purpose; without one, waiting
            # for a worker thread (or for one to start) is the harness's lateness
            ready = max(scheduled, free) if capped else scheduled
            record = request.new_record(worker, scheduled, ready)
            timer = connection.send(request, record)
            self.settler.add(timer)
            self.records[index] = record
            self.progress.count(timer)
            free = record.end_ns or time.perf_counter_ns()
            with self.lock:
                self.idle += 1
        self.connections.give(connection)

    def run(self) -> list[RequestRecord | None]:
        schedule = self.phase.schedule
        cap = schedule.cap
        for _ in range(cap or min(_UNCAPPED_START_WORKERS, len(self.phase.requests))):
            self.spawn()
        start_ns = self.phase.start_or(_START_LEAD_NS)
        for index, offset in enumerate(schedule.arrival_offsets):
            due = start_ns + int(offset * 1e9)
            _sleep_until(due)
            if not cap and self.idle <= 0:
                self.spawn()
            self.inbox.put((index, due))
        for _ in self.threads:
            self.inbox.put(None)
        for thread in self.threads:
            thread.join()
        return self.records


class ThreadBackend:
    """The threading-pool backend: worker threads, idle connections kept across phases."""

    name = "threading-pool"

    def __init__(self, target: Address) -> None:
        self._connections = _Connections(target)

    def connect(self, count: int) -> None:
        self._connections.warm(count)

    def send(
        self, phase: Phase, progress: Progress, settler: Settler
    ) -> list[RequestRecord | None]:
        if phase.sessions is not None:
            raise ValueError("multi-turn sessions run on the asyncio backend")
        if phase.schedule.open_loop:
            return _OpenLoop(phase, self._connections, progress, settler).run()
        return _closed_loop(phase, self._connections, progress, settler)

    def close(self) -> None:
        self._connections.close()
