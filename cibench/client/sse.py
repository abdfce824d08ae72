"""Server-sent events: turn raw response-body bytes into `SSEEvent`s (pure, incremental).

Follows the WHATWG event-stream rules that matter for OpenAI-compatible servers: lines end with
CRLF, LF or CR (also when the pair is split across reads); `:` lines are comments; `data` lines
of one event are joined with `\\n`; a blank line dispatches the event; an event without any
`data` line is dropped; a field without a colon has an empty value; one space after the colon is
stripped. Bytes are decoded as UTF-8 per complete line, so a character split across reads is
fine.

    events = parse_sse(b'data: {"a": 1}\\n\\ndata: [DONE]\\n\\n')
    parser = SSEParser()
    for chunk in body_chunks:
        for event in parser.feed(chunk):
            ...
    if parser.has_partial:  # the stream ended inside an event: it was truncated
        ...
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DONE", "SSEEvent", "SSEParser", "parse_sse"]

DONE = "[DONE]"
"""The OpenAI end-of-stream sentinel carried as the data of the last event."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its data (lines joined by `\\n`) and optional type, id and retry."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    @property
    def is_done(self) -> bool:
        """True for the OpenAI `data: [DONE]` sentinel."""
        return self.data == DONE


class SSEParser:
    """Incremental parser: `feed()` the body as it arrives, get the events completed so far."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_retry", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._buffer = b""
        self._skip_lf = False  # the previous feed ended in CR: a leading LF completes that CRLF
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._started = False  # some field or comment line of the current event was seen

    @property
    def has_partial(self) -> bool:
        """True when bytes or fields of an event are pending without its closing blank line."""
        return bool(self._buffer) or self._started

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Consume the next bytes of the body and return the events they completed, in order."""
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if not data:
            return []
        buffer = self._buffer + data if self._buffer else data
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):
                self._skip_lf = True
                buffer = buffer[:-1] + b"\n"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        self._started = True
        if raw[0] == 0x3A:  # ':' starts a comment (keep-alive pings)
            return None
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        event = None
        if self._data:
            event = SSEEvent("\n".join(self._data), self._event, self._id, self._retry)
        self._data = []
        self._event = None
        self._retry = None
        self._started = False
        return event


def parse_sse(data: bytes) -> list[SSEEvent]:
    """Parse a complete body; a trailing event without its closing blank line is dropped."""
    return SSEParser().feed(data)
