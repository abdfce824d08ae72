"""A reason class for every failed request (pure: reads a `RequestRecord`, nothing else).

Classes: `timeout_connect`, `timeout_first_byte`, `timeout_stall`, `connection_refused`,
`connection_reset`, `connection_closed`, `http_<status>` with the OpenAI error type or code
after a colon (`http_429:rate_limit_exceeded`, `http_400:context_length`, `http_500:
InternalServerError`), `stream_error` (an in-band `data: {"error": ...}` event),
`malformed_stream` (bad framing, a chunk that is not JSON, a body without choices),
`truncated_stream`, `empty_response`, and `server_crash` (a connection-level failure while a
local server process had exited). Anything else keeps its driver error type, lower-cased.
"""

from __future__ import annotations

import errno
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from cibench.client.record import RequestRecord

__all__ = [
    "CONNECTION_REASONS",
    "failure_reason",
    "format_reasons",
    "parse_reasons",
    "reason_counts",
]

CONNECTION_REASONS = frozenset(
    {
        "timeout_connect",
        "timeout_first_byte",
        "timeout_stall",
        "connection_refused",
        "connection_reset",
        "connection_closed",
        "truncated_stream",
    }
)
"""Reasons a dead server produces; with the server process gone they become `server_crash`."""

_CONTEXT_LENGTH = re.compile(r"context length|context_length|maximum context|too many tokens", re.I)
_MALFORMED = {"BadChunk", "HttpFramingError", "BadBody"}
_CONNECTION_KINDS = {
    "ConnectError",
    "ConnectionRefusedError",
    "ConnectionClosed",
    "ConnectionResetError",
    "BrokenPipeError",
}
_LABEL_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _connect_reason(message: str) -> str:
    lowered = message.lower()
    # asyncio words a refusal "[Errno 111] Connect call failed"; the errno is what is stable
    if "refused" in lowered or f"[errno {errno.ECONNREFUSED}]" in lowered:
        return "connection_refused"
    if "reset" in lowered or "broken pipe" in lowered or f"[errno {errno.ECONNRESET}]" in lowered:
        return "connection_reset"
    if "timed out" in lowered or "timeout" in lowered or f"[errno {errno.ETIMEDOUT}]" in lowered:
        return "timeout_connect"
    return "connection_closed"


def _http_reason(status: int, code: str | None, message: str) -> str:
    if status == 400 and _CONTEXT_LENGTH.search(message):
        detail = "context_length"
    elif code:
        detail = _LABEL_SAFE.sub("_", code)[:40]
    elif status == 429:
        detail = "rate_limit"
    else:
        return f"http_{status}"
    return f"http_{status}:{detail}"


def failure_reason(record: RequestRecord, server_exited: bool = False) -> str | None:
    """The reason class of a failed request; None for a success.

    :param server_exited: the local server process had exited by the end of the load point, so
        connection-level failures are the crash's, not the network's.
    """
    if record.success:
        return None
    kind = record.error_type or "unknown"
    message = record.error_message or ""
    if kind.startswith("HTTP") and kind[4:].isdigit():
        reason = _http_reason(int(kind[4:]), record.error_code, message)
    elif kind in ("Timeout", "TimeoutError"):
        reason = "timeout_stall" if record.token_ns else "timeout_first_byte"
    elif kind in _CONNECTION_KINDS:
        reason = _connect_reason(f"{kind} {message}")
    elif kind == "StreamError":
        reason = "stream_error"
    elif kind in _MALFORMED:
        reason = "malformed_stream"
    elif kind == "Truncated":
        reason = "truncated_stream"
    elif kind == "EmptyResponse":
        reason = "empty_response"
    else:
        reason = _LABEL_SAFE.sub("_", kind).lower()
    if server_exited and reason in CONNECTION_REASONS:
        return "server_crash"
    return reason


def reason_counts(records: Iterable[RequestRecord], server_exited: bool = False) -> dict[str, int]:
    """Failed requests per reason, most frequent first (ties by name)."""
    counts = Counter(
        reason
        for record in records
        if (reason := failure_reason(record, server_exited)) is not None
    )
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def format_reasons(counts: dict[str, int], top: int = 5) -> str:
    """`http_500=12;timeout_stall=3` (the `top` most frequent; empty when none failed)."""
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return ";".join(f"{reason}={count}" for reason, count in items)


def parse_reasons(text: str) -> dict[str, int]:
    """The inverse of `format_reasons` (bad parts are skipped)."""
    found: dict[str, int] = {}
    for part in text.split(";"):
        reason, _, count = part.strip().rpartition("=")
        if reason and count.isdigit():
            found[reason] = int(count)
    return found


def top_reasons(counts: dict[str, int], top: int = 3) -> Sequence[tuple[str, int]]:
    """The `top` most frequent reasons."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
