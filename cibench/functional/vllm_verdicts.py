"""Verdicts on behaviours vLLM has and other OpenAI-compatible servers may lack (pure).

Each judges the reply to one probe request. "no" needs positive evidence of a *different*
server: a lenient one (an out-of-range value or an unknown model answered 200, `echo`
ignored) or one with another shape of the same API (llama.cpp's `/tokenize` reads `content`,
its metrics are `llamacpp:*`, its completions logprobs use the chat format). A *broken* server
never earns a "no": a 5xx, a timeout or an unreadable body is "unknown", which runs the cases,
so that they fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from cibench.functional.answer_checks import has_text
from cibench.functional.checks import UsageStyle
from cibench.functional.framing import read_stream
from cibench.functional.observation import Reply
from cibench.functional.verdicts import (
    PROBE_MODEL_MISSING,
    Finding,
    first_choice,
    refused_by,
)

COMPLETION_LOGPROBS_KEYS = ("tokens", "token_logprobs", "top_logprobs")


def judge_version(reply: Reply) -> tuple[Finding, str | None]:
    """`GET /version` answers `{"version": "..."}` (and which version)."""
    no = refused_by(reply, "GET /version")
    if no:
        return no, None
    body, problem = reply.json_body()
    version = body.get("version") if isinstance(body, Mapping) else None
    if isinstance(version, str):
        return Finding("yes", f"GET /version -> {version!r}"), version
    return Finding("unknown", problem or "GET /version -> 200 without a 'version' string"), None


MIN_TOKENS_PROBE = 6
MIN_TOKENS_STOPS = [" ", "，", "。"]
"""Stop strings every sentence has within a few tokens (a space; CJK commas and full stops)."""


def judge_min_tokens(reply: Reply) -> Finding:
    """`min_tokens` holds back stop strings: with `MIN_TOKENS_STOPS` and min_tokens 6, at least
    six tokens come back (a server that ignores it stops at the first space or comma)."""
    what = f"a completion request with stop {MIN_TOKENS_STOPS} and min_tokens {MIN_TOKENS_PROBE}"
    no = refused_by(reply, what)
    if no:
        return no
    body, problem = reply.json_body()
    usage = body.get("usage") if isinstance(body, Mapping) else None
    tokens = usage.get("completion_tokens") if isinstance(usage, Mapping) else None
    if not isinstance(tokens, int):
        return Finding("unknown", problem or f"{what} -> 200 without usage.completion_tokens")
    if tokens >= MIN_TOKENS_PROBE:
        return Finding("yes", f"{what} -> {tokens} completion tokens")
    return Finding("no", f"{what} -> only {tokens} completion tokens (min_tokens ignored)")


def judge_strict_validation(reply: Reply) -> Finding:
    """Out-of-range sampling values are refused with a 4xx (vLLM's request validation)."""
    what = "a chat request with temperature -0.5"
    if reply.status is not None and 400 <= reply.status < 500:
        return Finding("yes", f"{what} -> {reply.status} (out-of-range values are refused)")
    if reply.status == 200:
        return Finding("no", f"{what} -> 200 (out-of-range values accepted: lenient validation)")
    return Finding("unknown", f"{what} failed: {reply.describe()}")


def judge_model_check(reply: Reply) -> Finding:
    """The request's `model` is checked: an unknown name is a 4xx, not served by another model."""
    what = f"a chat request for model '{PROBE_MODEL_MISSING}'"
    if reply.status is not None and 400 <= reply.status < 500:
        return Finding("yes", f"{what} -> {reply.status}")
    if reply.status == 200:
        return Finding("no", f"{what} -> 200 (the model field is not checked)")
    return Finding("unknown", f"{what} failed: {reply.describe()}")


def judge_echo(reply: Reply, prompt: str) -> Finding:
    """`echo: true` on completions puts the prompt before the generated text."""
    what = "a completion request with echo"
    choice = first_choice(reply, what)
    if isinstance(choice, Finding):
        return choice
    text = choice.text
    if text.startswith(prompt):
        return Finding("yes", f"{what} -> the text starts with the prompt")
    return Finding(
        "no", f"{what} -> 200 with text {text[:40]!r}, not starting with {prompt!r} (echo ignored)"
    )


def _first_choice(reply: Reply) -> Mapping[str, Any] | None:
    body, _ = reply.json_body()
    choices = body.get("choices") if isinstance(body, Mapping) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def judge_completions_logprobs(reply: Reply) -> Finding:
    """Completions logprobs come in OpenAI's completions format (tokens, token_logprobs, ...)."""
    what = "a completion request with logprobs 2"
    no = refused_by(reply, what)
    if no:
        return no
    choice = _first_choice(reply)
    if choice is None:
        return Finding("unknown", f"{what}: unreadable answer {reply.describe()}")
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, Mapping):
        return Finding("unknown", f"{what} -> 200 without logprobs (the cases will tell)")
    if all(isinstance(logprobs.get(key), list) for key in COMPLETION_LOGPROBS_KEYS):
        return Finding("yes", f"{what} -> logprobs with {', '.join(COMPLETION_LOGPROBS_KEYS)}")
    return Finding(
        "no",
        f"{what} -> 200 with logprobs keys {sorted(logprobs)}, not OpenAI's completions format "
        f"({', '.join(COMPLETION_LOGPROBS_KEYS)}, text_offset)",
    )


def judge_top_logprobs_zero(reply: Reply, logprobs: Finding) -> Finding:
    """`logprobs: true` with `top_logprobs: 0` still returns the tokens' logprobs.

    Null logprobs count as "no" only when the logprobs probe (top_logprobs 2) got them: then
    the server returns logprobs only together with alternatives, which is a difference, not
    a breakage.
    """
    what = "a chat request with logprobs true and top_logprobs 0"
    choice = first_choice(reply, what)
    if isinstance(choice, Finding):
        return choice
    if choice.logprobs_seen:
        return Finding("yes", f"{what} -> a logprobs object")
    if logprobs.support == "yes":
        return Finding(
            "no",
            f"{what} -> 200 without logprobs, although top_logprobs 2 gave them "
            "(logprobs only come with alternatives)",
        )
    return Finding("unknown", f"{what} -> 200 without logprobs (the cases will tell)")


def judge_continuous_usage(reply: Reply) -> Finding:
    """`continuous_usage_stats` (vLLM extension) puts usage in every chunk with text."""
    what = "a chat stream with include_usage and continuous_usage_stats"
    no = refused_by(reply, what)
    if no:
        return no
    chunks = read_stream(reply.raw, reply.content_type).chunks
    texts = [chunk for chunk in chunks if has_text(chunk)]
    if not texts:
        return Finding("unknown", f"{what} -> no chunk with text")
    counted = sum(1 for chunk in texts if isinstance(chunk.get("usage"), Mapping))
    if counted == len(texts):
        return Finding("yes", f"{what} -> usage in every chunk with text")
    if counted == 0 and isinstance(chunks[-1].get("usage"), Mapping):
        return Finding(
            "no", f"{what} -> usage only in the final chunk (continuous_usage_stats ignored)"
        )
    return Finding("unknown", f"{what} -> usage in {counted} of {len(texts)} chunks with text")


def judge_vllm_tokenize(reply: Reply) -> Finding:
    """`POST /tokenize` takes vLLM's `prompt` and answers non-empty `tokens` and a `count`."""
    what = "POST /tokenize with a prompt"
    no = refused_by(reply, what)
    if no:
        return no
    body, problem = reply.json_body()
    if problem or not isinstance(body, Mapping):
        return Finding("unknown", problem or f"{what} -> 200 {reply.text[:80]!r}")
    tokens, count = body.get("tokens"), body.get("count")
    if isinstance(tokens, list) and tokens and isinstance(count, int):
        return Finding("yes", f"{what} -> {count} tokens")
    return Finding(
        "no",
        f"{what} -> 200 {reply.text[:80]!r}: not vLLM's /tokenize "
        "(non-empty 'tokens' and a 'count' for the prompt)",
    )


def judge_vllm_metrics(reply: Reply) -> Finding:
    """`GET /metrics` exposes vLLM's `vllm:*` metric families."""
    what = "GET /metrics"
    no = refused_by(reply, what)
    if no:
        return no
    try:
        names = sorted({family.name for family in text_string_to_metric_families(reply.text)})
    except (ValueError, TypeError, IndexError) as exc:
        return Finding("unknown", f"{what} -> 200 but not Prometheus text ({exc})")
    vllm = [name for name in names if name.startswith("vllm:")]
    if vllm:
        return Finding("yes", f"{what} -> {len(vllm)} vllm:* metric families")
    if not names:
        return Finding("unknown", f"{what} -> 200 without any metric family")
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return Finding(
        "no", f"{what} -> Prometheus text without vLLM's vllm:* metrics (it has {shown})"
    )


def judge_completions_usage(reply: Reply) -> tuple[UsageStyle | None, str]:
    """Where a completions stream puts usage when `include_usage` asks for it.

    "separate": a final chunk with `choices: []` (OpenAI, vLLM); "finish": on the chunk that
    carries the finish_reason (llama.cpp). None when the stream does not tell.
    """
    what = "a completion stream with include_usage"
    if reply.status != 200:
        return None, f"{what} -> {reply.describe()}"
    chunks = read_stream(reply.raw, reply.content_type).chunks
    if not chunks or not isinstance(chunks[-1].get("usage"), Mapping):
        return None, f"{what} -> the last chunk carries no usage"
    choices = chunks[-1].get("choices")
    if choices == []:
        return "separate", f"{what} -> usage in a final chunk with 'choices': []"
    if isinstance(choices, list) and all(
        isinstance(c, Mapping) and isinstance(c.get("finish_reason"), str) for c in choices
    ):
        return "finish", f"{what} -> usage on the finish chunk, no 'choices': [] chunk"
    return None, f"{what} -> usage on a last chunk without finish_reason"
