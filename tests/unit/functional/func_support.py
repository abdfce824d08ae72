"""Helpers for the functional-suite unit tests: hand-written vLLM-shaped replies and cases."""

from __future__ import annotations

import json
from typing import Any

from cibench.config.functional import FunctionalCase
from cibench.functional.checks import CheckContext
from cibench.functional.observation import Observation, Reply
from cibench.functional.schemas import SchemaSet

MODEL = "sim-model"
SCHEMAS = SchemaSet.load()
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
USAGE = {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}


def case(**fields: Any) -> FunctionalCase:
    """A case from keyword fields, validated exactly like YAML (`id` defaults to 'c')."""
    return FunctionalCase.model_validate({"id": "c", **fields})


def context(reasoning_key: str | None = None, error_style: Any = "nested") -> CheckContext:
    """The check context of a nested-envelope server serving MODEL."""
    return CheckContext(MODEL, SCHEMAS, reasoning_key=reasoning_key, error_style=error_style)


def json_reply(body: Any, status: int = 200, path: str = CHAT) -> Reply:
    """A JSON answer."""
    return Reply("POST", path, status, "application/json", json.dumps(body).encode())


def chat_body(
    content: str | None = "Hello there.",
    finish_reason: str = "stop",
    usage: dict[str, Any] | None = None,
    **message: Any,
) -> dict[str, Any]:
    """A vLLM chat.completion body with one choice (nulls where vLLM sends nulls)."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "tool_calls": [], **message},
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": None,
            }
        ],
        "usage": usage if usage is not None else dict(USAGE),
        "prompt_logprobs": None,
        "system_fingerprint": None,
    }


def completion_body(text: str = " Paris.", finish_reason: str = "stop") -> dict[str, Any]:
    """A vLLM text_completion body with one choice."""
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}],
        "usage": dict(USAGE),
    }


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any
) -> dict[str, Any]:
    """One chat.completion.chunk for choice 0 (`choices=[]` via top-level override)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
    }
    body.update(top)
    return body


def chat_chunks(*pieces: str, finish: str = "stop") -> list[dict[str, Any]]:
    """A well-formed chat stream: the role chunk, one chunk per piece, the last one finishing."""
    out = [chunk({"role": "assistant", "content": ""})]
    for i, piece in enumerate(pieces):
        out.append(chunk({"content": piece}, finish if i == len(pieces) - 1 else None))
    return out


def sse(*events: Any, done: int = 1) -> bytes:
    """SSE bytes: each event as `data: <json>` (strings verbatim), then `done` [DONE] events."""
    out = b""
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        out += f"data: {data}\n\n".encode()
    return out + b"data: [DONE]\n\n" * done


def stream_reply(raw: bytes, path: str = CHAT) -> Reply:
    """A 200 event-stream answer carrying `raw`."""
    return Reply("POST", path, 200, "text/event-stream; charset=utf-8", raw)


def observe(reply: Reply, request: dict[str, Any] | None = None, **extra: Any) -> Observation:
    """An observation of one reply (plus any follow-up replies given by keyword)."""
    return Observation(request=request or {"model": MODEL}, reply=reply, **extra)
