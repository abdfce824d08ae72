"""Verdicts on generic OpenAI-API features, each from the reply to one probe request (pure).

A verdict is "yes", "no" or "unknown", with the evidence. "no" needs positive evidence: the
route is missing (404/405), the request is refused (4xx), or the server answers 200 but
ignores what was asked (vLLM drops unknown keys silently). A 5xx, a timeout or an answer cut
short by max_tokens is "unknown", which runs the cases, so a broken server fails them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from jsonschema import Draft202012Validator

from cibench.functional.answer import Answer, Choice, from_body
from cibench.functional.checks import ErrorStyle
from cibench.functional.observation import Reply
from cibench.functional.schemas import SchemaSet

Support = Literal["yes", "no", "unknown"]
PROBE_MODEL_MISSING = "cibench-probe-no-such-model"
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
ROUTE_MISSING = (404, 405)
PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PROBE_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "integer"}},
    "required": ["answer", "confidence"],
}


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one capability and the evidence behind it."""

    support: Support
    evidence: str


def answer_of(reply: Reply) -> Answer | None:
    """The chat or completions answer of a 200 reply, or None."""
    if reply.status != 200:
        return None
    body, problem = reply.json_body()
    return None if problem else from_body("chat" if reply.path == CHAT else "completions", body)


_UNKNOWN_MODEL = re.compile(r"model.*(does not exist|not found|unknown|no such|not served)", re.I)


def is_unknown_model(reply: Reply) -> bool:
    """A 404 that says the requested model does not exist (vLLM: "The model `x` does not
    exist."), as opposed to a route that does not exist."""
    if reply.status != 404:
        return False
    body, _ = reply.json_body()
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if message is None and isinstance(body, dict):
        message = body.get("message")
    return isinstance(message, str) and bool(_UNKNOWN_MODEL.search(message))


def model_not_served(reply: Reply, model: str, served: Sequence[str]) -> str | None:
    """Why no case can run when the probe's plain request names a model the server does not
    serve (None when it does)."""
    if not is_unknown_model(reply):
        return None
    listed = f"; GET /v1/models lists {list(served)}" if served else ""
    return (
        f"the server does not serve model {model!r} ({reply.describe()}){listed}; pass --model "
        "NAME or set served_model_name in the scenario"
    )


def refused_by(reply: Reply, what: str) -> Finding | None:
    """ "no" for a missing route or a 4xx refusal, "unknown" for other failures (and for a 404
    about the model rather than the route), None on 200."""
    if reply.status is None:
        return Finding("unknown", f"{what}: {reply.transport_error}")
    if is_unknown_model(reply):
        return Finding("unknown", f"{what}: the model is not served: {reply.describe()}")
    if reply.status in ROUTE_MISSING:
        return Finding("no", f"{reply.describe()}")
    if 400 <= reply.status < 500:
        return Finding("no", f"{what} refused: {reply.describe()}")
    if reply.status != 200:
        return Finding("unknown", f"{what} failed: {reply.describe()}")
    return None


def judge_endpoint(reply: Reply, what: str) -> Finding:
    """An endpoint exists when it answers 200."""
    return refused_by(reply, what) or Finding("yes", f"{reply.label} -> 200")


def first_choice(reply: Reply, what: str) -> Choice | Finding:
    """The first choice of a 200 answer, else the finding that explains why there is none."""
    no = refused_by(reply, what)
    if no:
        return no
    answer = answer_of(reply)
    if answer is None or not answer.choices:
        return Finding("unknown", f"{what}: unreadable answer {reply.describe()}")
    return answer.choices[0]


def judge_tools(reply: Reply) -> Finding:
    """Tools are honoured when tool_choice 'required' yields tool_calls."""
    what = "a chat request with tool_choice 'required'"
    choice = first_choice(reply, what)
    if isinstance(choice, Finding):
        return choice
    if choice.tool_calls:
        return Finding("yes", f"{what} -> tool_calls {[c.name for c in choice.tool_calls]}")
    if choice.finish_reason == "length":
        return Finding("unknown", f"{what} was cut by max_tokens before any tool call")
    return Finding("no", f"{what} -> 200 without tool_calls (tools ignored)")


def judge_guided(reply: Reply) -> Finding:
    """Guided decoding is honoured when the json_schema output validates."""
    what = "a chat request with response_format json_schema"
    choice = first_choice(reply, what)
    if isinstance(choice, Finding):
        return choice
    if choice.finish_reason == "length":
        return Finding("unknown", f"{what} was cut by max_tokens")
    try:
        value = json.loads(choice.text)
    except json.JSONDecodeError:
        value = None
    if value is not None and Draft202012Validator(PROBE_SCHEMA).is_valid(value):
        return Finding("yes", f"{what} -> content validates")
    return Finding("no", f"{what} -> 200 but content {choice.text[:80]!r} does not validate")


def judge_reasoning(reply: Reply) -> tuple[Finding, str | None]:
    """Reasoning is present when a chat answer carries a non-empty reasoning field (and which)."""
    what = "a plain chat request"
    no = refused_by(reply, what)
    if no:
        return Finding("unknown", no.evidence), None
    answer = answer_of(reply)
    if answer is None or not answer.choices:
        return Finding("unknown", f"{what}: unreadable answer {reply.describe()}"), None
    found = [k for k, v in answer.choices[0].reasoning.items() if v.strip()]
    if not found:
        return Finding("no", f"{what} -> neither reasoning_content nor reasoning"), None
    key = "reasoning" if "reasoning" in found else found[0]
    return Finding("yes", f"{what} -> reasoning under '{key}'"), key


def judge_logprobs(reply: Reply) -> Finding:
    """Logprobs are refused with a 4xx, else assumed (the cases then check them)."""
    what = "a chat request with logprobs"
    no = refused_by(reply, what)
    if no:
        return no
    answer = answer_of(reply)
    if answer and answer.choices and answer.choices[0].logprobs_seen:
        return Finding("yes", f"{what} -> logprobs object")
    return Finding("unknown", f"{what} -> 200 without logprobs (the cases will tell)")


def judge_n(reply: Reply) -> Finding:
    """n > 1 is refused with a 4xx, else assumed."""
    what = "a chat request with n=2"
    no = refused_by(reply, what)
    if no:
        return no
    answer = answer_of(reply)
    if answer and len(answer.choices) == 2:
        return Finding("yes", f"{what} -> 2 choices")
    return Finding("unknown", f"{what} -> 200 without 2 choices (the cases will tell)")


def judge_deterministic(first: Reply, second: Reply) -> Finding:
    """Deterministic when two identical temperature-0 requests give the same text."""
    what = "two identical temperature-0 chat requests"
    for reply in (first, second):
        no = refused_by(reply, what)
        if no:
            return Finding("unknown", no.evidence)
    one, two = answer_of(first), answer_of(second)
    if not (one and two and one.choices and two.choices):
        return Finding("unknown", f"{what}: unreadable answers")
    a, b = one.choices[0], two.choices[0]
    if (a.text, a.reasoning) == (b.text, b.reasoning):
        return Finding("yes", f"{what} -> the same text")
    return Finding("no", f"{what} -> different texts {a.text[:40]!r} / {b.text[:40]!r}")


def judge_error_style(
    reply: Reply,
    schemas: SchemaSet,
    what: str = f"a chat request for model '{PROBE_MODEL_MISSING}'",
) -> tuple[ErrorStyle | None, str]:
    """Which OpenAI error envelope the server uses, from an error answer (`what` was asked)."""
    if reply.status is None or reply.status < 400:
        return None, f"{what} -> {reply.describe()}, no error to read"
    body, problem = reply.json_body()
    if problem:
        return None, f"{what}: {problem}"
    if schemas.conforms("error_nested", body):
        return "nested", f"{what} -> {reply.status} with {{'error': {{...}}}}"
    if schemas.conforms("error_flat", body):
        return "flat", f"{what} -> {reply.status} with {{'object': 'error', ...}}"
    return None, f"{what} -> {reply.status} with neither envelope: {reply.text[:120]!r}"
