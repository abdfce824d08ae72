"""Probe a server once per scenario for what it supports, and decide which cases to skip.

Each feature gets one tiny request and a verdict: "yes", "no" or "unknown", with evidence.
A feature is "no" only on positive evidence: the route is missing (404/405), the request is
refused (4xx), or, for tools and guided decoding, the server answers 200 but ignores the
constraint (vLLM drops unknown keys silently). Anything else (a 5xx, a timeout, an answer
cut short by max_tokens) is "unknown", and unknown runs the cases, so a broken server fails
them instead of having them skipped. A scenario's `features` flags force a feature on (the
cases run and must pass) or off (they are skipped); `reasoning_key` overrides detection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx
from jsonschema import Draft202012Validator

from cibench.config.functional import Capability
from cibench.config.scenario import Features
from cibench.functional.answer import Answer, from_body
from cibench.functional.checks import ErrorStyle
from cibench.functional.observation import Reply
from cibench.functional.runner import send
from cibench.functional.schemas import SchemaSet

Support = Literal["yes", "no", "unknown"]
FORCEABLE: dict[Capability, str] = {
    "guided_decoding": "guided_decoding",
    "function_call": "function_call",
    "reasoning": "reasoning",
}
PROBE_MODEL_MISSING = "cibench-probe-no-such-model"
CHAT = "/v1/chat/completions"
_ROUTE_MISSING = (404, 405)
_PROBE_TOOL = {
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
_PROBE_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "integer"}},
    "required": ["answer", "confidence"],
}


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one capability and the evidence behind it."""

    support: Support
    evidence: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one scenario's server supports, as probed."""

    scenario_id: str
    version: str | None = None
    served_models: tuple[str, ...] = ()
    findings: Mapping[str, Finding] = field(default_factory=dict)
    error_style: ErrorStyle | None = None
    error_style_evidence: str = "not probed"
    reasoning_key: str | None = None

    def finding(self, capability: Capability) -> Finding:
        """The finding for `capability` ("unknown" when it was not probed)."""
        return self.findings.get(capability, Finding("unknown", "not probed"))

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (written next to functional.csv for debugging)."""
        data = asdict(self)
        data["findings"] = {name: asdict(f) for name, f in self.findings.items()}
        data["served_models"] = list(self.served_models)
        return data


def skip_reason(
    needed: Sequence[Capability], features: Features, caps: Capabilities, scenario_file: str
) -> str | None:
    """Why a case needing `needed` must be skipped on this server, or None to run it."""
    for capability in needed:
        flag = FORCEABLE.get(capability)
        forced: bool | None = getattr(features, flag) if flag else None
        if forced is True:
            continue
        if forced is False:
            return f"capability '{capability}' is off: features.{flag}: false in {scenario_file}"
        finding = caps.finding(capability)
        if finding.support == "no":
            hint = (
                f"; set features.{flag}: true in {scenario_file} to run these cases anyway"
                if flag
                else ""
            )
            return f"capability '{capability}' unsupported (probe: {finding.evidence}){hint}"
    return None


# ---- verdicts from replies (pure) --------------------------------------------------------------


def _answer(reply: Reply) -> Answer | None:
    if reply.status != 200:
        return None
    body, problem = reply.json_body()
    return None if problem else from_body("chat" if reply.path == CHAT else "completions", body)


def _refused(reply: Reply, what: str) -> Finding | None:
    """ "no" for a missing route or a 4xx refusal, "unknown" for other failures, None on 200."""
    if reply.status is None:
        return Finding("unknown", f"{what}: {reply.transport_error}")
    if reply.status in _ROUTE_MISSING:
        return Finding("no", f"{reply.describe()}")
    if 400 <= reply.status < 500:
        return Finding("no", f"{what} refused: {reply.describe()}")
    if reply.status != 200:
        return Finding("unknown", f"{what} failed: {reply.describe()}")
    return None


def judge_endpoint(reply: Reply, what: str) -> Finding:
    """An endpoint exists when it answers 200."""
    return _refused(reply, what) or Finding("yes", f"{reply.label} -> 200")


def judge_tools(reply: Reply) -> Finding:
    """Tools are honoured when tool_choice 'required' yields tool_calls."""
    what = "a chat request with tool_choice 'required'"
    refused = _refused(reply, what)
    if refused:
        return refused
    answer = _answer(reply)
    if answer is None or not answer.choices:
        return Finding("unknown", f"{what}: unreadable answer {reply.describe()}")
    choice = answer.choices[0]
    if choice.tool_calls:
        return Finding("yes", f"{what} -> tool_calls {[c.name for c in choice.tool_calls]}")
    if choice.finish_reason == "length":
        return Finding("unknown", f"{what} was cut by max_tokens before any tool call")
    return Finding("no", f"{what} -> 200 without tool_calls (tools ignored)")


def judge_guided(reply: Reply) -> Finding:
    """Guided decoding is honoured when the json_schema output validates."""
    what = "a chat request with response_format json_schema"
    refused = _refused(reply, what)
    if refused:
        return refused
    answer = _answer(reply)
    if answer is None or not answer.choices:
        return Finding("unknown", f"{what}: unreadable answer {reply.describe()}")
    choice = answer.choices[0]
    if choice.finish_reason == "length":
        return Finding("unknown", f"{what} was cut by max_tokens")
    try:
        value = json.loads(choice.text)
    except json.JSONDecodeError:
        value = None
    if value is not None and Draft202012Validator(_PROBE_SCHEMA).is_valid(value):
        return Finding("yes", f"{what} -> content validates")
    return Finding("no", f"{what} -> 200 but content {choice.text[:80]!r} does not validate")


def judge_reasoning(reply: Reply) -> tuple[Finding, str | None]:
    """Reasoning is present when a chat answer carries a non-empty reasoning field (and which)."""
    what = "a plain chat request"
    refused = _refused(reply, what)
    if refused:
        return Finding("unknown", refused.evidence), None
    answer = _answer(reply)
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
    refused = _refused(reply, what)
    if refused:
        return refused
    answer = _answer(reply)
    if answer and answer.choices and answer.choices[0].logprobs_seen:
        return Finding("yes", f"{what} -> logprobs object")
    return Finding("unknown", f"{what} -> 200 without logprobs (the cases will tell)")


def judge_n(reply: Reply) -> Finding:
    """n > 1 is refused with a 4xx, else assumed."""
    what = "a chat request with n=2"
    refused = _refused(reply, what)
    if refused:
        return refused
    answer = _answer(reply)
    if answer and len(answer.choices) == 2:
        return Finding("yes", f"{what} -> 2 choices")
    return Finding("unknown", f"{what} -> 200 without 2 choices (the cases will tell)")


def judge_deterministic(first: Reply, second: Reply) -> Finding:
    """Deterministic when two identical temperature-0 requests give the same text."""
    what = "two identical temperature-0 chat requests"
    for reply in (first, second):
        refused = _refused(reply, what)
        if refused:
            return Finding("unknown", refused.evidence)
    one, two = _answer(first), _answer(second)
    if not (one and two and one.choices and two.choices):
        return Finding("unknown", f"{what}: unreadable answers")
    a, b = one.choices[0], two.choices[0]
    if (a.text, a.reasoning) == (b.text, b.reasoning):
        return Finding("yes", f"{what} -> the same text")
    return Finding("no", f"{what} -> different texts {a.text[:40]!r} / {b.text[:40]!r}")


def judge_error_style(reply: Reply, schemas: SchemaSet) -> tuple[ErrorStyle | None, str]:
    """Which OpenAI error envelope the server uses, from the answer to an unknown model."""
    what = f"a chat request for model '{PROBE_MODEL_MISSING}'"
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


# ---- the probe (I/O) ---------------------------------------------------------------------------


def _chat(model: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Reply with one short sentence about the weather."}]
    return {"model": model, "messages": messages, "max_tokens": max_tokens, **extra}


def probe(client: httpx.Client, scenario_id: str, model: str, schemas: SchemaSet) -> Capabilities:
    """Send the probe requests (about a dozen, all tiny) and judge each capability."""
    findings: dict[str, Finding] = {}
    version_reply = send(client, "GET", "/version")
    version = None
    if version_reply.status == 200:
        body, _ = version_reply.json_body()
        if isinstance(body, Mapping) and isinstance(body.get("version"), str):
            version = body["version"]
    models_reply = send(client, "GET", "/v1/models")
    served: tuple[str, ...] = ()
    if models_reply.status == 200:
        body, _ = models_reply.json_body()
        data = body.get("data") if isinstance(body, Mapping) else None
        served = tuple(str(m["id"]) for m in data or [] if isinstance(m, Mapping) and "id" in m)

    chat = send(client, "POST", CHAT, _chat(model, 16, temperature=0))
    findings["chat"] = judge_endpoint(chat, "a plain chat request")
    findings["reasoning"], reasoning_key = judge_reasoning(chat)
    completion = {"model": model, "prompt": "The weather today is", "max_tokens": 4}
    findings["completions"] = judge_endpoint(
        send(client, "POST", "/v1/completions", completion), "a plain completion request"
    )
    tools = _chat(model, 256, tools=[_PROBE_TOOL], tool_choice="required")
    findings["function_call"] = judge_tools(send(client, "POST", CHAT, tools))
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "probe", "schema": _PROBE_SCHEMA},
    }
    guided = _chat(model, 256, response_format=schema_format)
    findings["guided_decoding"] = judge_guided(send(client, "POST", CHAT, guided))
    logprobs = _chat(model, 4, logprobs=True, top_logprobs=2)
    findings["logprobs"] = judge_logprobs(send(client, "POST", CHAT, logprobs))
    findings["n"] = judge_n(send(client, "POST", CHAT, _chat(model, 2, n=2, temperature=0.8)))
    tokenize = {"model": model, "prompt": "hello world"}
    findings["tokenize"] = judge_endpoint(send(client, "POST", "/tokenize", tokenize), "/tokenize")
    findings["metrics"] = judge_endpoint(send(client, "GET", "/metrics"), "/metrics")
    findings["deterministic"] = judge_deterministic(
        chat, send(client, "POST", CHAT, _chat(model, 16, temperature=0))
    )
    missing = send(client, "POST", CHAT, _chat(PROBE_MODEL_MISSING, 1))
    error_style, error_evidence = judge_error_style(missing, schemas)
    return Capabilities(
        scenario_id=scenario_id,
        version=version,
        served_models=served,
        findings=findings,
        error_style=error_style,
        error_style_evidence=error_evidence,
        reasoning_key=reasoning_key,
    )
