"""Minimal HTTP/1.1 framing without I/O: encode a POST/GET, decode a response as bytes arrive.

Only what talking to an OpenAI-compatible server on a keep-alive connection needs: a status
line, headers, and a body framed by `Transfer-Encoding: chunked`, `Content-Length` or the close
of the connection. The drivers in `cibench.client.connection` feed it raw socket reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["HttpFramingError", "ResponseHead", "ResponseReader", "encode_request"]

_MAX_HEAD_BYTES = 65536


class HttpFramingError(ValueError):
    """The server's bytes are not valid HTTP/1.1 framing."""


def encode_request(
    method: str,
    host: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
) -> bytes:
    """The complete request bytes: request line, headers (with Host, Content-Length), body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


@dataclass(slots=True)
class ResponseHead:
    """Status line and headers (names lower-cased) of a response."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    keep_alive: bool = True


# Reader states.
_HEAD, _SIZE, _DATA, _DATA_END, _TRAILER, _LENGTH, _UNTIL_CLOSE, _DONE = range(8)


class ResponseReader:
    """Incremental response decoder: `feed()` raw bytes, get the body bytes they carried.

    `head` is set once the header block is complete; `complete` turns true when the body's
    framing says it has ended (for a close-delimited body: when `feed_eof()` is called).
    """

    __slots__ = ("_buffer", "_remaining", "_state", "complete", "head")

    def __init__(self) -> None:
        self._buffer = b""
        self._state = _HEAD
        self._remaining = 0
        self.head: ResponseHead | None = None
        self.complete = False

    def feed(self, data: bytes) -> bytes:
        """Consume bytes from the socket; return the decoded body bytes among them."""
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        if self._state == _HEAD:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD_BYTES:
                    raise HttpFramingError("response header block exceeds 64 KiB")
                self._buffer = buffer
                return b""
            self._start_body(self._parse_head(buffer[:end]))
            buffer = buffer[end + 4 :]
        return self._body(buffer)

    def feed_eof(self) -> None:
        """The server closed the connection: a close-delimited body ends here."""
        if self._state == _UNTIL_CLOSE:
            self._state = _DONE
            self.complete = True

    def _parse_head(self, block: bytes) -> ResponseHead:
        lines = block.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpFramingError(f"bad status line {lines[0][:80]!r}")
        head = ResponseHead(int(parts[1]), parts[2] if len(parts) > 2 else "")
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise HttpFramingError(f"bad header line {line[:80]!r}")
            head.headers[name.strip().lower()] = value.strip()
        connection = head.headers.get("connection", "").lower()
        head.keep_alive = parts[0] == "HTTP/1.1" and "close" not in connection
        if parts[0] == "HTTP/1.0" and "keep-alive" in connection:
            head.keep_alive = True
        self.head = head
        return head

    def _start_body(self, head: ResponseHead) -> None:
        if "chunked" in head.headers.get("transfer-encoding", "").lower():
            self._state = _SIZE
        elif "content-length" in head.headers:
            try:
                self._remaining = int(head.headers["content-length"])
            except ValueError as exc:
                raise HttpFramingError("bad Content-Length header") from exc
            self._state = _LENGTH
            if self._remaining == 0:
                self._finish()
        elif head.status in (204, 304) or 100 <= head.status < 200:
            self._finish()
        else:
            self._state = _UNTIL_CLOSE
            head.keep_alive = False

    def _finish(self) -> None:
        self._state = _DONE
        self.complete = True

    def _body(self, buffer: bytes) -> bytes:
        state = self._state
        if state == _UNTIL_CLOSE:
            return buffer
        if state == _LENGTH:
            taken = buffer[: self._remaining]
            self._remaining -= len(taken)
            if self._remaining == 0:
                self._finish()
            return taken
        if state == _DONE:
            return b""
        return self._chunked(buffer)

    def _chunked(self, buffer: bytes) -> bytes:
        out: list[bytes] = []
        pos = 0
        size = len(buffer)
        state = self._state
        while pos < size:
            if state == _DATA:
                end = min(size, pos + self._remaining)
                out.append(buffer[pos:end])
                self._remaining -= end - pos
                pos = end
                if self._remaining == 0:
                    state = _DATA_END
                continue
            eol = buffer.find(b"\r\n", pos)
            if eol < 0:
                self._buffer = buffer[pos:]
                if len(self._buffer) > _MAX_HEAD_BYTES:
                    raise HttpFramingError("chunk-size line exceeds 64 KiB")
                break
            line = buffer[pos:eol]
            pos = eol + 2
            if state == _SIZE:
                try:
                    self._remaining = int(line.split(b";", 1)[0], 16)
                except ValueError as exc:
                    raise HttpFramingError(f"bad chunk size {line[:40]!r}") from exc
                state = _DATA if self._remaining else _TRAILER
            elif state == _DATA_END:
                if line:
                    raise HttpFramingError("chunk data not followed by CRLF")
                state = _SIZE
            elif not line:  # _TRAILER: the blank line ends the message
                state = _DONE
                self.complete = True
                break
        self._state = state
        return b"".join(out) if len(out) != 1 else out[0]
