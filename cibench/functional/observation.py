"""What the runner saw for one case: the HTTP replies, as plain data for the pure checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP exchange as received: status and raw body, or the transport error instead."""

    method: str
    path: str
    status: int | None
    content_type: str = ""
    raw: bytes = b""
    transport_error: str | None = None
    received_at: float = 0.0  # Unix time the answer arrived (0: unknown)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.raw.decode("utf-8", errors="replace")

    @property
    def label(self) -> str:
        """`POST /v1/chat/completions`, for messages."""
        return f"{self.method} {self.path}"

    def json_body(self) -> tuple[Any, str | None]:
        """The body parsed as JSON, or (None, why not)."""
        try:
            return json.loads(self.raw), None
        except json.JSONDecodeError as exc:
            return None, f"{self.label}: body is not JSON ({exc.msg}): {self.text[:120]!r}"
        except UnicodeDecodeError:
            return None, f"{self.label}: body is not UTF-8 text"

    def describe(self) -> str:
        """A one-line summary: status and the start of the body (or the transport error)."""
        if self.status is None:
            return f"{self.label}: no HTTP answer ({self.transport_error})"
        shown = self.text[:200].replace("\n", "\\n")
        return f"{self.label} -> {self.status} {shown!r}"


@dataclass(slots=True)
class Observation:
    """Every reply one case produced: the main one plus the follow-ups its expectations need."""

    request: dict[str, Any]
    reply: Reply
    earlier_turns: list[Reply] = field(default_factory=list)
    non_stream_twin: Reply | None = None
    repeat: Reply | None = None
    health_after: Reply | None = None
    request_after: Reply | None = None
    tokenized: Reply | None = None  # /tokenize of the same prompt or messages
    unstopped: Reply | None = None  # the same request without `stop` (stop_from_answer)
    metrics_before: Reply | None = None  # /metrics before the request (metrics_move)
