"""A deliberately misbehaving HTTP server on 127.0.0.1, for the fault tests.

`HostileServer(behave)` calls `behave(request)` for every request and does what the returned
`Act` says: answer (any status, headers, body), drip the answer a byte at a time, hang, send
bytes that are not HTTP, or reset the connection. One request per connection.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

How = Literal["answer", "drip", "hang", "garbage", "reset"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Act:
    how: How = "answer"
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    drip_interval: float = 0.2


def answer(status: int = 200, payload: Any = None, **headers: str) -> Act:
    """A JSON answer; `retry_after="2"` becomes the header `retry-after: 2`."""
    body = json.dumps({} if payload is None else payload).encode()
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return Act("answer", status, body, {"content-type": "application/json", **named})


def models(*names: str) -> Act:
    """The OpenAI model list answer."""
    return answer(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})


class HostileServer:
    """Serve `behave` on 127.0.0.1 (a free port, or `port`) until the `with` block ends."""

    def __init__(self, behave: Callable[[Request], Act], port: int = 0) -> None:
        self.behave = behave
        self.requests: list[Request] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                request = _read_request(conn)
            except OSError:
                return
            if request is None:
                return
            self.requests.append(request)
            self._act(conn, self.behave(request))

    def _act(self, conn: socket.socket, act: Act) -> None:
        if act.how == "hang":
            self._stop.wait(60)
            return
        if act.how == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if act.how == "garbage":
            conn.sendall(b"\x00\xffthis is not HTTP\r\n\r\n")
            return
        head = [f"HTTP/1.1 {act.status} X", f"content-length: {len(act.body)}", "connection: close"]
        head += [f"{name}: {value}" for name, value in act.headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + act.body
        try:
            if act.how == "drip":
                for index in range(len(data)):
                    if self._stop.is_set():
                        return
                    conn.sendall(data[index : index + 1])
                    time.sleep(act.drip_interval)
            else:
                conn.sendall(data)
        except OSError:
            return


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)
