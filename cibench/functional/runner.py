"""Execute one functional case against a server over raw httpx and return what was observed.

The client passed in carries the base URL and the auth header (`Endpoint.headers()`); nothing
here logs headers or bodies. Streams are read whole as bytes, so the checks see the exact
framing. Extra requests are sent only when an expectation needs them: the same request
without streaming, the same request again, `/health` plus a plain request afterwards, and the
conversation turns before the last one.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import httpx

from cibench.config.functional import FunctionalCase
from cibench.functional.answer import from_body, from_chunks
from cibench.functional.framing import read_stream
from cibench.functional.observation import Observation, Reply

GENERATION_APIS = ("chat", "completions")
_MODEL_APIS = ("chat", "completions", "tokenize", "detokenize")
_STALE_CONNECTION = "without sending a response"


def build_request(case: FunctionalCase, model: str) -> dict[str, Any]:
    """The JSON body to send: the case's body plus `model` (unless given) and `stream`."""
    body = copy.deepcopy(case.body)
    if case.api in _MODEL_APIS and case.send_model and "model" not in body:
        body["model"] = model
    if case.api in GENERATION_APIS and case.stream:
        body["stream"] = True
    return body


def send(
    client: httpx.Client,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    raw_body: str | None = None,
    content_type: str = "application/json",
) -> Reply:
    """One request; a transport failure becomes a `Reply` without status instead of raising."""
    content: bytes | None = None
    if raw_body is not None:
        content = raw_body.encode("utf-8")
    elif body is not None and method == "POST":
        content = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": content_type} if content is not None else {}
    try:
        try:
            response = client.request(method, path, content=content, headers=headers)
        except httpx.RemoteProtocolError as exc:
            if _STALE_CONNECTION not in str(exc):
                raise
            # A pooled keep-alive connection the server closed just as it was reused
            # (llama.cpp's HTTP library closes idle ones): nothing was answered, so the
            # request goes once more on a fresh connection. A server that really drops the
            # request drops it again and the case fails.
            response = client.request(method, path, content=content, headers=headers)
    except httpx.HTTPError as exc:
        return Reply(method, path, None, transport_error=f"{type(exc).__name__}: {exc}")
    return Reply(
        method=method,
        path=path,
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        raw=response.content,
        received_at=time.time(),
    )


def assistant_text(api: str, reply: Reply, stream: bool) -> str:
    """The first choice's content of a successful generation reply ('' when there is none)."""
    if stream:
        answer = from_chunks(api, read_stream(reply.raw, reply.content_type).chunks)
    else:
        body, _ = reply.json_body()
        answer = from_body(api, body)
    return answer.choices[0].text if answer.choices else ""


def _plain_request(case: FunctionalCase, model: str) -> tuple[str, dict[str, Any]]:
    """A minimal request on the case's endpoint (chat for every api but completions)."""
    if case.api == "completions":
        return "/v1/completions", {"model": model, "prompt": "Hello", "max_tokens": 1}
    messages = [{"role": "user", "content": "Hello"}]
    return "/v1/chat/completions", {"model": model, "messages": messages, "max_tokens": 1}


def pick_stop(text: str) -> str | None:
    """A stop string taken from the middle of an answer, for `stop_from_answer` (pure): four
    characters with something visible, so honouring it must cut the answer short."""
    for start in range(len(text) // 2, max(len(text) - 4, 0)):
        candidate = text[start : start + 4]
        if candidate.strip() and text.find(candidate) > 0:
            return candidate
    return None


def _tokenize_request(case: FunctionalCase, request: dict[str, Any], model: str) -> dict[str, Any]:
    """The /tokenize body for the same prompt (completions) or messages (chat)."""
    if case.api == "chat":
        body: dict[str, Any] = {"model": model, "messages": request.get("messages", [])}
        for key in ("tools", "add_generation_prompt", "chat_template_kwargs"):
            if key in request:
                body[key] = request[key]
        return body
    return {"model": model, "prompt": request.get("prompt", "")}


def run_case(client: httpx.Client, case: FunctionalCase, model: str) -> Observation:
    """Send `case` (and the follow-ups its expectations need); collect every reply."""
    method, path = case.route
    body = build_request(case, model)
    expect = case.expect
    unstopped: Reply | None = None
    if expect.stop_from_answer:
        unstopped = send(client, "POST", path, body, None, case.content_type)
        if unstopped.status == 200:
            stop = pick_stop(assistant_text(case.api, unstopped, case.stream))
            if stop is not None:
                body = {**body, "stop": [stop]}
    metrics_before: Reply | None = None
    if expect.metrics_move:
        metrics_before = send(client, "GET", "/metrics")
        plain_path, plain_body = _plain_request(case, model)
        send(client, "POST", plain_path, {**plain_body, "max_tokens": 4})
    if case.api == "raw" or method == "GET":
        reply = send(
            client,
            method,
            path,
            None if method == "GET" else body,
            case.raw_body,
            case.content_type,
        )
        observed = Observation(request=body, reply=reply)
    else:
        observed = _converse(client, case, body, path)
    observed.unstopped = unstopped
    observed.metrics_before = metrics_before
    if expect.prompt_tokens_match_tokenize:
        tokenize_body = _tokenize_request(case, observed.request, model)
        observed.tokenized = send(client, "POST", "/tokenize", tokenize_body)
    if expect.matches_non_stream:
        twin = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        observed.non_stream_twin = send(client, "POST", path, twin, None, case.content_type)
    if expect.repeatable:
        observed.repeat = send(client, "POST", path, observed.request, None, case.content_type)
    if expect.healthy_after:
        observed.health_after = send(client, "GET", "/health")
        plain_path, plain_body = _plain_request(case, model)
        observed.request_after = send(client, "POST", plain_path, plain_body)
    return observed


def _converse(
    client: httpx.Client, case: FunctionalCase, body: dict[str, Any], path: str
) -> Observation:
    """The request itself, or for `followups` every turn, each answer fed into the next."""
    earlier: list[Reply] = []
    current = body
    for followup in case.followups:
        reply = send(client, "POST", path, current, case.raw_body, case.content_type)
        if reply.status != 200:
            return Observation(request=current, reply=reply, earlier_turns=earlier)
        earlier.append(reply)
        said = assistant_text(case.api, reply, case.stream)
        current = copy.deepcopy(current)
        current["messages"] = [
            *current.get("messages", []),
            {"role": "assistant", "content": said},
            {"role": "user", "content": followup},
        ]
    reply = send(client, "POST", path, current, case.raw_body, case.content_type)
    return Observation(request=current, reply=reply, earlier_turns=earlier)
