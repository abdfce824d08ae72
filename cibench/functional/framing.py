"""SSE framing of an OpenAI-style stream, checked from the raw body bytes (pure).

A conforming stream (OpenAI's streaming guide, vLLM's `test_stream_frame_template.py`) is a
series of `data: <json>` events, each closed by a blank line, ending with exactly one
`data: [DONE]` event after which nothing follows. An event whose JSON carries an `error`
object is an in-band error (vLLM's way to fail after the 200 status line was sent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cibench.client.sse import SSEParser

EVENT_STREAM = "text/event-stream"


@dataclass(slots=True)
class Framing:
    """The JSON chunks of a stream in order, plus every framing problem found."""

    chunks: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_stream(raw: bytes, content_type: str) -> Framing:
    """Parse `raw` as an SSE body and report where it breaks the OpenAI framing."""
    out = Framing()
    if not content_type.lower().startswith(EVENT_STREAM):
        out.problems.append(
            f"content-type is {content_type!r}, expected {EVENT_STREAM!r} for a stream"
        )
    parser = SSEParser()
    events = parser.feed(raw)
    if parser.has_partial:
        out.problems.append(
            "the stream ends inside an event (the last lines are not closed by a blank line)"
        )
    done_at = [i for i, event in enumerate(events) if event.is_done]
    if not done_at:
        out.problems.append("the stream ended without a 'data: [DONE]' event")
    elif len(done_at) > 1:
        out.problems.append(f"'data: [DONE]' was sent {len(done_at)} times, expected once")
    if done_at and done_at[-1] != len(events) - 1:
        out.problems.append(f"{len(events) - 1 - done_at[-1]} event(s) follow 'data: [DONE]'")
    for number, event in enumerate(events):
        if event.is_done:
            continue
        if event.event is not None:
            out.problems.append(
                f"event {number} has 'event: {event.event}'; OpenAI streams send data-only events"
            )
        try:
            chunk = json.loads(event.data)
        except json.JSONDecodeError as exc:
            shown = event.data[:120]
            out.problems.append(f"event {number}: data is not JSON ({exc.msg}): {shown!r}")
            continue
        if not isinstance(chunk, Mapping):
            out.problems.append(f"event {number}: data is {type(chunk).__name__}, not an object")
            continue
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], Mapping) else {}
            out.problems.append(
                f"event {number} is an in-band error: {error.get('message', chunk['error'])!r}"
            )
            continue
        out.chunks.append(chunk)
    if not out.chunks:
        out.problems.append("the stream carried no JSON chunk")
    return out
