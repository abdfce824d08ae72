"""Probe a server once per scenario for what it supports, and decide which cases to skip.

Each feature gets one tiny request and a verdict ("yes", "no" or "unknown", with evidence)
from `verdicts` (generic OpenAI-API features) or `vllm_verdicts` (behaviours vLLM has and
other servers may lack). Only positive evidence makes a feature "no"; unknown runs the cases,
so a broken server fails them instead of having them skipped. A scenario's `features` flags
force a feature on (the cases run and must pass) or off (they are skipped); `reasoning_key`
overrides detection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from cibench.config.functional import CAPABILITIES, Capability
from cibench.config.scenario import Features
from cibench.functional.capability_baseline import CapabilityBaseline, lost
from cibench.functional.checks import ErrorStyle, UsageStyle
from cibench.functional.observation import Reply
from cibench.functional.runner import send
from cibench.functional.schemas import SchemaSet
from cibench.functional.verdicts import (
    CHAT,
    COMPLETIONS,
    PROBE_MODEL_MISSING,
    PROBE_SCHEMA,
    PROBE_TOOL,
    Finding,
    judge_deterministic,
    judge_endpoint,
    judge_error_style,
    judge_guided,
    judge_logprobs,
    judge_n,
    judge_reasoning,
    judge_tools,
    model_not_served,
)
from cibench.functional.vllm_verdicts import (
    MIN_TOKENS_PROBE,
    MIN_TOKENS_STOPS,
    judge_completions_logprobs,
    judge_completions_usage,
    judge_continuous_usage,
    judge_echo,
    judge_min_tokens,
    judge_model_check,
    judge_strict_validation,
    judge_top_logprobs_zero,
    judge_version,
    judge_vllm_metrics,
    judge_vllm_tokenize,
)

# Declaring a capability on declares what it is built on: a scenario that says
# `vllm_tokenize: true` says /tokenize exists, so a missing route fails instead of skipping.
IMPLIED_BY: dict[Capability, tuple[Capability, ...]] = {
    "chat": (
        "function_call",
        "guided_decoding",
        "reasoning",
        "logprobs",
        "n",
        "deterministic",
        "continuous_usage",
        "top_logprobs_zero",
    ),
    "completions": ("echo", "completions_logprobs", "min_tokens"),
    "logprobs": ("top_logprobs_zero",),
    "tokenize": ("vllm_tokenize",),
    "metrics": ("vllm_metrics",),
}
MODEL_APIS = ("chat", "completions", "tokenize")
ECHO_PROMPT = "The weather today is"


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
    completions_usage: UsageStyle | None = None
    completions_usage_evidence: str = "not probed"
    model_error: str | None = None

    def finding(self, capability: Capability) -> Finding:
        """The finding for `capability` ("unknown" when it was not probed)."""
        return self.findings.get(capability, Finding("unknown", "not probed"))

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (written next to functional.csv for debugging)."""
        data = asdict(self)
        data["findings"] = {name: asdict(f) for name, f in self.findings.items()}
        data["served_models"] = list(self.served_models)
        return data


Action = Literal["run", "skip", "fail"]


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether a case runs, is skipped or fails without running, and why."""

    action: Action
    reason: str = ""


def declared(features: Features, capability: Capability) -> bool | None:
    """The scenario's declaration for `capability`: its own flag, else True when a capability
    built on it is declared on, else None (the probe decides)."""
    own: bool | None = getattr(features, capability, None)
    if own is not None:
        return own
    if any(getattr(features, c, None) is True for c in IMPLIED_BY.get(capability, ())):
        return True
    return None


def _hint(capability: Capability, declared_in: str | None) -> str:
    if declared_in is None:
        return f"; pass --features {capability} to run these cases anyway"
    return f"; set features.{capability}: true in {declared_in} to run these cases anyway"


def admit(
    needed: Sequence[Capability],
    features: Features,
    caps: Capabilities,
    declared_in: str | None,
    baseline: CapabilityBaseline | None = None,
) -> Admission:
    """Run, skip or fail a case needing `needed` on this server.

    `declared_in` names where features are declared (the scenario file), None for a scenario
    given by URL (declared with --features). A capability declared on runs; declared off
    skips; found missing by the probe skips with the evidence, unless the capability baseline
    had it: then the case fails, as a lost capability is a regression.
    """
    if caps.model_error is not None and any(c in MODEL_APIS for c in needed):
        return Admission("fail", caps.model_error)
    for capability in needed:
        forced = declared(features, capability)
        if forced is True:
            continue
        if forced is False:
            where = declared_in or "--features"
            return Admission(
                "skip", f"capability '{capability}' is off: features.{capability}: false in {where}"
            )
        finding = caps.finding(capability)
        if finding.support != "no":
            continue
        regression = lost(baseline, capability, finding) if baseline is not None else None
        if regression is not None:
            return Admission("fail", regression)
        return Admission(
            "skip",
            f"capability '{capability}' unsupported (probe: {finding.evidence})"
            + _hint(capability, declared_in),
        )
    return Admission("run")


def lost_capabilities(
    baseline: CapabilityBaseline, features: Features, caps: Capabilities
) -> dict[str, str]:
    """Every capability the baseline had, with "" when it is kept and the reason when it is
    lost (a capability declared by hand is judged by its cases, not here)."""
    outcome: dict[str, str] = {}
    for capability in CAPABILITIES:
        if baseline.supported(capability) is None or declared(features, capability) is not None:
            continue
        outcome[capability] = lost(baseline, capability, caps.finding(capability)) or ""
    return outcome


# ---- the probe (I/O) ---------------------------------------------------------------------------


def _chat(model: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Reply with one short sentence about the weather."}]
    return {"model": model, "messages": messages, "max_tokens": max_tokens, **extra}


def _completion(model: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    return {"model": model, "prompt": ECHO_PROMPT, "max_tokens": max_tokens, **extra}


def _served_models(reply: Reply) -> tuple[str, ...]:
    if reply.status != 200:
        return ()
    body, _ = reply.json_body()
    data = body.get("data") if isinstance(body, Mapping) else None
    return tuple(str(m["id"]) for m in data or [] if isinstance(m, Mapping) and "id" in m)


def _probe_completions(client: httpx.Client, model: str) -> dict[str, Finding]:
    """The completions endpoint, `echo`, its logprobs format and `min_tokens`."""
    plain = send(client, "POST", COMPLETIONS, _completion(model, 4))
    echo = send(client, "POST", COMPLETIONS, _completion(model, 1, echo=True))
    logprobs = send(client, "POST", COMPLETIONS, _completion(model, 2, logprobs=2))
    at_least = _completion(
        model, 12, temperature=0, stop=MIN_TOKENS_STOPS, min_tokens=MIN_TOKENS_PROBE
    )
    min_tokens = send(client, "POST", COMPLETIONS, at_least)
    return {
        "min_tokens": judge_min_tokens(min_tokens),
        "completions": judge_endpoint(plain, "a plain completion request"),
        "echo": judge_echo(echo, ECHO_PROMPT),
        "completions_logprobs": judge_completions_logprobs(logprobs),
    }


def _probe_chat_extras(client: httpx.Client, model: str) -> dict[str, Finding]:
    """Tools, guided decoding, logprobs, n and continuous usage on chat."""
    findings: dict[str, Finding] = {}
    tools = _chat(model, 256, temperature=0, tools=[PROBE_TOOL], tool_choice="required")
    findings["function_call"] = judge_tools(send(client, "POST", CHAT, tools))
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "probe", "schema": PROBE_SCHEMA},
    }
    guided = _chat(model, 256, temperature=0, response_format=schema_format)
    findings["guided_decoding"] = judge_guided(send(client, "POST", CHAT, guided))
    logprobs = _chat(model, 4, logprobs=True, top_logprobs=2)
    findings["logprobs"] = judge_logprobs(send(client, "POST", CHAT, logprobs))
    zero = send(client, "POST", CHAT, _chat(model, 4, logprobs=True, top_logprobs=0))
    findings["top_logprobs_zero"] = judge_top_logprobs_zero(zero, findings["logprobs"])
    findings["n"] = judge_n(send(client, "POST", CHAT, _chat(model, 2, n=2, temperature=0.8)))
    options = {"include_usage": True, "continuous_usage_stats": True}
    continuous = _chat(model, 3, stream=True, stream_options=options)
    findings["continuous_usage"] = judge_continuous_usage(send(client, "POST", CHAT, continuous))
    return findings


def _probe_service(client: httpx.Client, model: str) -> dict[str, Finding]:
    """/tokenize and /metrics: present at all, and in vLLM's shape."""
    tokenize = send(client, "POST", "/tokenize", {"model": model, "prompt": "hello world"})
    metrics = send(client, "GET", "/metrics")
    return {
        "tokenize": judge_endpoint(tokenize, "/tokenize"),
        "vllm_tokenize": judge_vllm_tokenize(tokenize),
        "metrics": judge_endpoint(metrics, "/metrics"),
        "vllm_metrics": judge_vllm_metrics(metrics),
    }


def _probe_errors(
    client: httpx.Client, model: str, schemas: SchemaSet
) -> tuple[Finding, ErrorStyle | None, str]:
    """Model-name checking and the error envelope (from a missing `messages` when the unknown
    model is served anyway)."""
    missing = send(client, "POST", CHAT, _chat(PROBE_MODEL_MISSING, 1))
    model_check = judge_model_check(missing)
    style, evidence = judge_error_style(missing, schemas)
    if style is None and model_check.support == "no":
        no_messages = send(client, "POST", CHAT, {"model": model, "max_tokens": 1})
        style, evidence = judge_error_style(no_messages, schemas, "a chat request without messages")
    return model_check, style, evidence


def probe(client: httpx.Client, scenario_id: str, model: str, schemas: SchemaSet) -> Capabilities:
    """Send the probe requests (about twenty, all tiny) and judge each capability."""
    findings: dict[str, Finding] = {}
    findings["version"], version = judge_version(send(client, "GET", "/version"))
    served = _served_models(send(client, "GET", "/v1/models"))
    chat = send(client, "POST", CHAT, _chat(model, 16, temperature=0))
    model_error = model_not_served(chat, model, served)
    findings["chat"] = judge_endpoint(chat, "a plain chat request")
    findings["reasoning"], reasoning_key = judge_reasoning(chat)
    findings.update(_probe_completions(client, model))
    findings.update(_probe_chat_extras(client, model))
    findings.update(_probe_service(client, model))
    findings["deterministic"] = judge_deterministic(
        chat, send(client, "POST", CHAT, _chat(model, 16, temperature=0))
    )
    usage_stream = _completion(model, 2, stream=True, stream_options={"include_usage": True})
    usage_style, usage_evidence = judge_completions_usage(
        send(client, "POST", COMPLETIONS, usage_stream)
    )
    findings["model_check"], error_style, error_evidence = _probe_errors(client, model, schemas)
    # last: a bad request may upset a fragile server, and the cases must see that
    invalid = send(client, "POST", CHAT, _chat(model, 1, temperature=-0.5))
    findings["strict_validation"] = judge_strict_validation(invalid)
    return Capabilities(
        scenario_id=scenario_id,
        version=version,
        served_models=served,
        findings=findings,
        error_style=error_style,
        error_style_evidence=error_evidence,
        reasoning_key=reasoning_key,
        completions_usage=usage_style,
        completions_usage_evidence=usage_evidence,
        model_error=model_error,
    )
