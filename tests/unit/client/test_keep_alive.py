"""Reused keep-alive connections the server has closed: the request goes out on a new one."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cibench.client.aconnection import AsyncPool
from cibench.client.connection import BlockingConnection
from cibench.client.http1 import encode_request
from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest

TOKEN = json.dumps({"choices": [{"index": 0, "delta": {"content": "hi"}}]}).encode()
EVENTS = b"data: " + TOKEN + b"\n\ndata: [DONE]\n\n"
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(EVENTS), EVENTS)
)


class OneRequestPerConnection(asyncio.Protocol):
    """Answers the first request of a connection and keeps it open, then closes it without a
    byte when the next request arrives: the race a keep-alive timeout makes (the server
    closes an idle connection just as the client reuses it), made certain."""

    def __init__(self) -> None:
        self.answered = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.answered:
            self.transport.close()
            return
        self.answered = True
        self.transport.write(ANSWER)


@contextmanager
def closing_server() -> Iterator[int]:
    """That server on loopback, in a thread with its own event loop; yields its port."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(OneRequestPerConnection, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def request(port: int, index: int) -> PreparedRequest:
    body = json.dumps({"model": "m", "messages": [], "stream": True}).encode()
    payload = encode_request("POST", f"127.0.0.1:{port}", "/v1/chat/completions", {}, body)
    return PreparedRequest(index, payload)


def test_async_pool_resends_on_a_new_connection_not_another_stale_one() -> None:
    async def scenario(port: int) -> list[RequestRecord]:
        pool = AsyncPool("127.0.0.1", port, timeout_s=5.0)
        records = [RequestRecord(index=i) for i in range(4)]
        # two requests at once: two connections, each now spent on the server's side
        first = await asyncio.gather(*(pool.send(request(port, i), records[i]) for i in range(2)))
        timers = [*first]
        for i in (2, 3):  # both idle connections are stale now; each request needs a new one
            timers.append(await pool.send(request(port, i), records[i]))
        for timer in timers:
            timer.settle()
        pool.close()
        return records

    with closing_server() as port:
        records = asyncio.run(scenario(port))
    assert [r.success for r in records] == [True] * 4, [r.error_message for r in records]
    assert all(r.token_ns for r in records)


def test_blocking_connection_resends_on_a_new_connection() -> None:
    with closing_server() as port:
        connection = BlockingConnection("127.0.0.1", port, timeout_s=5.0)
        records = [RequestRecord(index=i) for i in range(3)]
        for i, record in enumerate(records):
            connection.send(request(port, i), record).settle()
        connection.close()
    assert [r.success for r in records] == [True] * 3, [r.error_message for r in records]
