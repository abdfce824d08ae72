"""asyncio keep-alive HTTP/1.1 connections that timestamp bytes inside `data_received`.

A protocol callback runs as soon as the event loop sees the socket readable, one loop
iteration earlier than a coroutine awaiting a stream reader would, and the timestamp is the
first thing it takes.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest, ResponseTimer

__all__ = ["AsyncConnection", "AsyncPool"]


class _TimingProtocol(asyncio.Protocol):
    __slots__ = ("closed", "timer", "transport", "waiter")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.timer: ResponseTimer | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        timer = self.timer
        if timer is None:  # bytes outside a request: the connection cannot be trusted
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            return
        if timer.feed(now, data):
            # parsing waits for the coroutine: reads of other streams in this same batch are
            # timestamped first
            timer.end(now)
            self._settle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        timer = self.timer
        if timer is not None:
            if timer.got_bytes:
                timer.end(time.perf_counter_ns(), eof=True)
            self._settle()

    def _settle(self) -> None:
        waiter = self.waiter
        self.timer = None
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AsyncConnection:
    """One connection of an `AsyncPool`; carries one request at a time."""

    __slots__ = ("_protocol", "_timeout_s", "secret")

    def __init__(self, protocol: _TimingProtocol, timeout_s: float, secret: str | None) -> None:
        self._protocol = protocol
        self._timeout_s = timeout_s
        self.secret = secret

    @property
    def reusable(self) -> bool:
        """True when the connection is open and idle."""
        return not self._protocol.closed and self._protocol.timer is None

    def close(self) -> None:
        """Close the transport (idempotent)."""
        self._protocol.closed = True
        if self._protocol.transport is not None:
            self._protocol.transport.close()

    async def send(self, timer: ResponseTimer) -> bool:
        """Send the timer's request until its response ended (left unsettled); False when the
        connection was dead before any byte."""
        protocol = self._protocol
        transport = protocol.transport
        if protocol.closed or transport is None or transport.is_closing():
            return False
        loop = asyncio.get_running_loop()
        record = timer.record
        waiter: asyncio.Future[None] = loop.create_future()
        protocol.timer = timer
        protocol.waiter = waiter
        record.start_ns = time.perf_counter_ns()
        transport.write(timer.request.payload)
        timeout = loop.call_later(self._timeout_s, self._expire, timer, waiter)
        try:
            await waiter
        finally:
            timeout.cancel()
        if record.end_ns == 0 and not timer.got_bytes:
            return False  # connection lost without a byte: the pool retries
        timer.end(time.perf_counter_ns())  # keeps an end time already noted
        if not timer.keep_alive:
            self.close()
        return True

    def _expire(self, timer: ResponseTimer, waiter: asyncio.Future[None]) -> None:
        if waiter.done():
            return
        timer.fail(
            time.perf_counter_ns(), "Timeout", f"no complete response after {self._timeout_s} s"
        )
        self._protocol.timer = None
        self._protocol.waiter = None
        self.close()
        waiter.set_result(None)


class AsyncPool:
    """Keep-alive connections to one server, one per in-flight request, reused when idle."""

    __slots__ = ("_idle", "host", "port", "secret", "timeout_s", "tls")

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float,
        secret: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Stores the target; connections open on demand (or ahead with `warm()`)."""
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.secret = secret
        self.tls = tls
        self._idle: list[AsyncConnection] = []

    async def _open(self) -> AsyncConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            _TimingProtocol, self.host, self.port, ssl=self.tls
        )
        return AsyncConnection(protocol, self.timeout_s, self.secret)

    async def warm(self, count: int) -> None:
        """Open connections until `count` are idle, before any clock starts."""
        while len(self._idle) < count:
            self._idle.append(await self._open())

    async def acquire(self) -> AsyncConnection:
        """An idle open connection, or a new one."""
        idle = self._idle
        while idle:
            connection = idle.pop()
            if connection.reusable:
                return connection
        return await self._open()

    def release(self, connection: AsyncConnection) -> None:
        """Return a connection after its request; a closed one is dropped."""
        if connection.reusable:
            self._idle.append(connection)

    def close(self) -> None:
        """Close every idle connection."""
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def send(self, request: PreparedRequest, record: RequestRecord) -> ResponseTimer:
        """Send on a pooled connection; a stale one is replaced once, by a new connection (the
        other idle ones may have been closed by the same keep-alive timeout); errors end up in
        the timer's record. A successful stream comes back ended but unsettled."""
        for attempt in range(2):
            timer = ResponseTimer(request, record, self.secret)
            try:
                connection = await (self.acquire() if attempt == 0 else self._open())
            except OSError as exc:
                record.start_ns = time.perf_counter_ns()
                timer.fail(record.start_ns, "ConnectError", f"{self.host}:{self.port}: {exc}")
                return timer
            record.token_ns.clear()
            if await connection.send(timer):
                self.release(connection)
                return timer
            connection.close()
        timer.fail(time.perf_counter_ns(), "ConnectionClosed", "closed before any response byte")
        return timer
