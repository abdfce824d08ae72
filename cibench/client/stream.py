"""Turn one request's timestamped socket reads into its `RequestRecord` (no I/O, no clock).

The connection drivers (`connection.py` for threads, `aconnection.py` for asyncio) take a
timestamp the moment bytes arrive and hand both to `ResponseTimer.feed`. While the response
streams, `feed` only undoes the HTTP framing (to know when the response ends) and keeps each
read's body bytes with its timestamp; SSE and JSON parsing wait for `finish`, after the last
byte. Per-read work stays at a few microseconds, so reads of other streams arriving at the same
moment (closed-loop streams run in lock step) are timestamped with little delay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cibench.client.http1 import HttpFramingError, ResponseReader
from cibench.client.record import RequestRecord
from cibench.client.sse import DONE, SSEParser
from cibench.redact import register_secret, scrub

__all__ = ["PreparedRequest", "ResponseTimer", "error_text"]

_MAX_ERROR_BODY = 8192
_MAX_MESSAGE = 500
_decode = json.JSONDecoder().raw_decode


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request encoded before the clock starts: the exact bytes to write, and its identity."""

    index: int
    payload: bytes
    stream: bool = True
    requested_output_tokens: int | None = None
    epoch: int = 0
    keep_text: bool = False
    """Keep the generated text (`ResponseTimer.text`): a multi-turn session sends it back."""

    def new_record(self, worker: int, scheduled_ns: int, ready_ns: int) -> RequestRecord:
        """An empty record for sending this request from `worker`, due at `scheduled_ns`."""
        return RequestRecord(
            index=self.index,
            epoch=self.epoch,
            worker=worker,
            scheduled_ns=scheduled_ns,
            ready_ns=ready_ns,
            requested_output_tokens=self.requested_output_tokens,
        )


def error_text(body: bytes) -> str:
    """The message of an OpenAI error body (nested or flat), else the body's start as text."""
    text = body[:_MAX_ERROR_BODY].decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:_MAX_MESSAGE]
    message = _error_message(parsed)
    return (message if message is not None else text.strip())[:_MAX_MESSAGE]


def error_code(body: bytes | dict[str, Any]) -> str | None:
    """The named `code` (else the `type`) of an OpenAI error body, nested or flat; else None."""
    parsed: Any = body
    if isinstance(body, bytes):
        try:
            parsed = json.loads(body[:_MAX_ERROR_BODY].decode("utf-8", errors="replace"))
        except ValueError:
            return None
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    source = error if isinstance(error, dict) else parsed
    # vLLM sends the HTTP status as `code` and the class as `type`; OpenAI a named `code`
    code, kind = source.get("code"), source.get("type")
    for value in (code, kind):
        if isinstance(value, str) and value and not value.isdigit():
            return value
    return None


def _error_message(parsed: Any) -> str | None:
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    if isinstance(error, dict) and error.get("message") is not None:
        return str(error["message"])
    if isinstance(error, str):
        return error
    if parsed.get("object") == "error" or "message" in parsed:
        return str(parsed.get("message", ""))
    return None


def _carries_output(choice: Any) -> bool:
    if not isinstance(choice, dict):
        return False
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(
            delta.get("content")
            or delta.get("reasoning_content")
            or delta.get("reasoning")
            or delta.get("tool_calls")
        )
    return bool(choice.get("text"))


class ResponseTimer:
    """Accumulates one response: HTTP framing, SSE events, content timestamps, usage, errors."""

    __slots__ = (
        "_body",
        "_done",
        "_error",
        "_reader",
        "_reads",
        "_secret",
        "_sse",
        "_started_response",
        "_text",
        "pending_bytes",
        "record",
        "request",
    )

    def __init__(
        self, request: PreparedRequest, record: RequestRecord, secret: str | None = None
    ) -> None:
        """:param secret: an API key to blank out of any error message the server echoes."""
        self.request = request
        self.record = record
        self._secret = secret
        self._reader = ResponseReader()
        self._sse = SSEParser()
        self._body: list[bytes] = []
        self._reads: list[tuple[int, bytes]] = []
        self.pending_bytes = 0
        self._done = False
        self._error: tuple[str, str] | None = None
        self._started_response = False
        self._text: list[str] = []

    @property
    def got_bytes(self) -> bool:
        """True once any response byte arrived (a stale keep-alive connection sends none)."""
        return self._started_response

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this response."""
        head = self._reader.head
        return head is not None and head.keep_alive and self._reader.complete

    def feed(self, now_ns: int, data: bytes) -> bool:
        """Consume one read taken at `now_ns`; True when the response is complete."""
        self._started_response = True
        reader = self._reader
        try:
            body = reader.feed(data)
        except HttpFramingError as exc:
            self._fail("HttpFramingError", str(exc))
            return True
        head = reader.head
        if head is None:
            return False
        if head.status != 200 or not self.request.stream:
            if body and (head.status == 200 or len(self._body) < 64):
                self._body.append(body)
            return reader.complete
        if body:
            self._reads.append((now_ns, body))
            self.pending_bytes += len(body)
        return reader.complete

    @property
    def looks_failed(self) -> bool:
        """A failure visible without parsing the stream (status, framing, driver error)."""
        head = self._reader.head
        return self._error is not None or head is None or head.status != 200

    def _replay(self) -> None:
        """Parse the kept reads in order; each event takes the timestamp of the read that
        completed it. Plain `data: ...` blocks (all vLLM sends) skip the general SSE parser."""
        carry = b""
        general = False
        sse = self._sse
        for read_ns, body in self._reads:
            if general or b"\r" in body:
                general = True
                for event in sse.feed(carry + body):
                    self._event(read_ns, event.data, event.event)
                carry = b""
                continue
            blocks = (carry + body).split(b"\n\n")
            carry = blocks.pop()
            for block in blocks:
                if block[:6] == b"data: " and b"\n" not in block:
                    self._event(read_ns, block[6:].decode("utf-8", "replace"), None)
                else:
                    for event in sse.feed(block + b"\n\n"):
                        self._event(read_ns, event.data, event.event)
        if carry:
            sse.feed(carry)  # an unterminated event: `has_partial` reports the truncation
        self._reads.clear()
        self.pending_bytes = 0

    def _event(self, now_ns: int, data: str, kind: str | None) -> None:
        if data == DONE:
            self._done = True
            return
        try:
            chunk, end = _decode(data)
            if end != len(data) and data[end:].strip():
                raise ValueError("trailing data")
        except ValueError:
            self._fail("BadChunk", f"stream chunk is not JSON: {data[:120]!r}")
            return
        if not isinstance(chunk, dict):
            self._fail("BadChunk", f"stream chunk is not an object: {data[:120]!r}")
            return
        if kind == "error" or chunk.get("error") or chunk.get("object") == "error":
            message = _error_message(chunk) or data
            self._fail("StreamError", message[:_MAX_MESSAGE])
            self.record.error_code = self.record.error_code or error_code(chunk)
            return
        record = self.record
        choices = chunk.get("choices")
        if choices:
            for choice in choices:
                if _carries_output(choice):
                    record.token_ns.append(now_ns)
                    if self.request.keep_text:
                        self._keep_text(choice)
                    break
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            record.prompt_tokens = usage.get("prompt_tokens", record.prompt_tokens)
            record.completion_tokens = usage.get("completion_tokens", record.completion_tokens)

    def _keep_text(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(piece, str):
            self._text.append(piece)

    @property
    def text(self) -> str:
        """The generated text (content deltas, or a non-streamed message), once settled; empty
        unless the request was prepared with `keep_text`."""
        return "".join(self._text)

    def _fail(self, error_type: str, message: str) -> None:
        if self._error is None:
            self._error = (error_type, message)

    def end(self, now_ns: int, eof: bool = False) -> None:
        """Note when the response ended (`eof`: the server closed the connection); cheap, so a
        driver can call it inside its read callback and `settle()` later."""
        if eof:
            self._reader.feed_eof()
        if self.record.end_ns == 0:
            self.record.end_ns = now_ns

    def fail(self, now_ns: int, error_type: str, message: str) -> RequestRecord:
        """End the request as a failure noticed by the driver (timeout, connection error)."""
        self._fail(error_type, message)
        return self.finish(now_ns)

    def eof(self, now_ns: int) -> RequestRecord:
        """The server closed the connection: finish, as a truncation unless the body ended."""
        self.end(now_ns, eof=True)
        return self.settle()

    def finish(self, now_ns: int) -> RequestRecord:
        """`end()` then `settle()`."""
        self.end(now_ns)
        return self.settle()

    def settle(self) -> RequestRecord:
        """Parse the kept reads, decide success or failure, and return the completed record."""
        record = self.record
        if self._reads:
            self._replay()
        head = self._reader.head
        record.http_status = head.status if head is not None else None
        if self._error is None:
            self._error = self._verdict()
        if self._error is None:
            record.success = True
        else:
            record.success = False
            record.error_type, message = self._error
            register_secret(self._secret)
            record.error_message = scrub(message)
        return record

    def _verdict(self) -> tuple[str, str] | None:
        head = self._reader.head
        if head is None:
            if self._started_response:
                return ("Truncated", "connection closed inside the response head")
            return ("ConnectionClosed", "connection closed before any response byte")
        if head.status != 200:
            body = b"".join(self._body)
            self.record.error_code = error_code(body)
            return (f"HTTP{head.status}", error_text(body) or head.reason)
        if not self._reader.complete:
            return ("Truncated", "connection closed before the response body ended")
        if not self.request.stream:
            return self._non_stream_verdict()
        if self._sse.has_partial:
            return ("Truncated", "stream ended inside an SSE event")
        if not self.record.token_ns:
            return ("EmptyResponse", "no chunk carried content, reasoning or a tool call")
        return None

    def _non_stream_verdict(self) -> tuple[str, str] | None:
        try:
            parsed = json.loads(b"".join(self._body))
        except ValueError:
            return ("BadBody", "response body is not JSON")
        if not isinstance(parsed, dict) or not parsed.get("choices"):
            return ("BadBody", "response has no choices")
        usage = parsed.get("usage")
        if isinstance(usage, dict):
            self.record.prompt_tokens = usage.get("prompt_tokens")
            self.record.completion_tokens = usage.get("completion_tokens")
        choice = parsed["choices"][0]
        if self.request.keep_text and isinstance(choice, dict):
            message = choice.get("message")
            piece = message.get("content") if isinstance(message, dict) else choice.get("text")
            if isinstance(piece, str):
                self._text.append(piece)
        return None
