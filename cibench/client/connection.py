"""A blocking keep-alive HTTP/1.1 connection for one worker thread, timestamping every read."""

from __future__ import annotations

import socket
import ssl
import time

from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest, ResponseTimer

__all__ = ["BlockingConnection"]

_READ_SIZE = 262144


class BlockingConnection:
    """One TCP connection owned by one thread; reconnects when the server closed it."""

    __slots__ = ("_sock", "host", "port", "secret", "timeout_s", "tls")

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float,
        secret: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Stores the target; nothing is opened until `connect()` or the first `send()`."""
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.secret = secret
        self.tls = tls
        self._sock: socket.socket | None = None

    def connect(self) -> None:
        """Open the TCP connection now (outside any timed span); no-op when already open."""
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            self._sock = sock

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send(self, request: PreparedRequest, record: RequestRecord) -> ResponseTimer:
        """Send `request` and read its whole response into `record`'s timer.

        The returned timer has ended; a successful stream is left unsettled (call `settle()`
        now or after the phase). A reused connection the server had already closed is
        detected (no response byte) and the request is sent once more on a fresh connection,
        with a fresh start time.
        """
        reused = self._sock is not None
        try:
            self.connect()
        except OSError as exc:
            failed = ResponseTimer(request, record, self.secret)
            record.start_ns = time.perf_counter_ns()
            failed.fail(record.start_ns, "ConnectError", f"{self.host}:{self.port}: {exc}")
            return failed
        timer = self._exchange(request, record)
        if timer is None:
            self.close()
            if reused:
                record.token_ns.clear()
                return self.send(request, record)
            timer = ResponseTimer(request, record, self.secret)
            timer.fail(time.perf_counter_ns(), "ConnectionClosed", "closed before any byte")
        return timer

    def _exchange(self, request: PreparedRequest, record: RequestRecord) -> ResponseTimer | None:
        """One attempt; None when a reused connection turned out to be dead before any byte."""
        sock = self._sock
        assert sock is not None
        timer = ResponseTimer(request, record, self.secret)
        deadline = 0
        try:
            record.start_ns = start = time.perf_counter_ns()
            deadline = start + int(self.timeout_s * 1e9)
            sock.sendall(request.payload)
            recv = sock.recv
            clock = time.perf_counter_ns
            while True:
                data = recv(_READ_SIZE)
                now = clock()
                if not data:
                    if not timer.got_bytes:
                        return None
                    timer.eof(now)
                    self.close()
                    return timer
                if timer.feed(now, data):
                    break
                if now > deadline:
                    timer.fail(now, "Timeout", f"no complete response after {self.timeout_s} s")
                    self.close()
                    return timer
        except TimeoutError:
            timer.fail(time.perf_counter_ns(), "Timeout", f"no data for {self.timeout_s} s")
            self.close()
            return timer
        except OSError as exc:
            if not timer.got_bytes:
                return None
            timer.fail(time.perf_counter_ns(), type(exc).__name__, str(exc))
            self.close()
            return timer
        timer.end(now)
        if not timer.keep_alive:
            self.close()
        return timer
