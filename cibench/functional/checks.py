"""Turn a case's expectations and what the runner observed into a list of failures (pure).

An empty list means the case passed. Each failure is one sentence that says what was expected
and what came back, so the CSV reason and the pytest message are enough to start debugging.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client.parser import text_string_to_metric_families

from cibench.config.functional import FunctionalCase
from cibench.functional.answer import Answer, from_body, from_chunks
from cibench.functional.answer_checks import check_answer, check_stream_shape
from cibench.functional.field_checks import (
    check_choices_differ,
    check_identity,
    check_logprob_values,
    check_prompt_tokens,
    check_stopped,
    check_text_integrity,
)
from cibench.functional.framing import read_stream
from cibench.functional.observation import Observation, Reply
from cibench.functional.runner import assistant_text
from cibench.functional.schemas import SchemaName, SchemaSet

ErrorStyle = Literal["nested", "flat"]
# Where a completions stream carries usage: a final `choices: []` chunk (OpenAI, vLLM) or the
# chunk with the finish_reason (llama.cpp, whether include_usage asked for it or not).
UsageStyle = Literal["separate", "finish"]


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks need to know about the server beyond the case itself.

    `reasoning_key` None accepts either reasoning field; `error_style` None accepts either
    envelope (the probe could not tell); `completions_usage` None holds completions streams
    to OpenAI's final `choices: []` usage chunk.
    """

    served_model: str
    schemas: SchemaSet
    reasoning_key: str | None = None
    error_style: ErrorStyle | None = None
    completions_usage: UsageStyle | None = None


def check_case(case: FunctionalCase, observed: Observation, ctx: CheckContext) -> list[str]:
    """Every way `observed` misses `case.expect`; empty when the case passes."""
    failures: list[str] = []
    for number, turn in enumerate(observed.earlier_turns, start=1):
        if turn.status != 200:
            failures.append(f"turn {number} of the conversation failed: {turn.describe()}")
    reply = observed.reply
    expect = case.expect
    if reply.status is None:
        return [*failures, reply.describe()]
    if reply.status not in expect.statuses:
        wanted = " or ".join(str(s) for s in expect.statuses)
        failures.append(f"HTTP status {reply.status}, expected {wanted}: {reply.describe()}")
    if expect.healthy_after:
        failures.extend(_health_after(observed))
    if reply.status >= 400 or reply.status not in expect.statuses:
        wants_error_body = expect.error_body if expect.error_body is not None else True
        if reply.status >= 400 and expect.expects_error and wants_error_body:
            failures.extend(error_body_problems(reply, ctx, expect.error_message_regex))
        return failures
    failures.extend(_check_success(case, observed, ctx))
    return failures


def error_body_problems(
    reply: Reply, ctx: CheckContext, message_regex: str | None = None
) -> list[str]:
    """Problems with an error answer's body: OpenAI envelope (detected style) and message."""
    body, problem = reply.json_body()
    if problem:
        return [problem]
    if ctx.error_style is None:
        if ctx.schemas.conforms("error_nested", body) or ctx.schemas.conforms("error_flat", body):
            problems: list[str] = []
        else:
            problems = [
                f"{reply.label}: error body is neither the nested {{'error': {{...}}}} nor the "
                f"flat {{'object': 'error', ...}} OpenAI envelope: {reply.text[:200]!r}"
            ]
    else:
        schema: SchemaName = "error_nested" if ctx.error_style == "nested" else "error_flat"
        problems = ctx.schemas.problems(schema, body, where="error body")
        if problems:
            problems.append(
                f"(this server's probe found the {ctx.error_style} error envelope; "
                "all errors must use it)"
            )
    if message_regex and not problems:
        message = error_message(body) or ""
        if not re.search(message_regex, message, re.IGNORECASE):
            problems.append(f"error message {message!r} does not match /{message_regex}/i")
    return problems


def error_message(body: Any) -> str | None:
    """The message of either error envelope, or None."""
    if not isinstance(body, Mapping):
        return None
    nested = body.get("error")
    if isinstance(nested, Mapping) and isinstance(nested.get("message"), str):
        return str(nested["message"])
    message = body.get("message")
    return message if isinstance(message, str) else None


def _health_after(observed: Observation) -> list[str]:
    failures = []
    for name, reply in (
        ("/health", observed.health_after),
        ("a plain request", observed.request_after),
    ):
        if reply is None:
            failures.append(f"the runner did not check {name} after the request")
        elif reply.status != 200:
            failures.append(f"server unhealthy after the request: {reply.describe()}")
    return failures


def _check_success(case: FunctionalCase, observed: Observation, ctx: CheckContext) -> list[str]:
    reply = observed.reply
    expect = case.expect
    if case.api in ("chat", "completions"):
        return _check_generation(case, observed, ctx)
    if case.api == "metrics":
        moved = metrics_moved(observed.metrics_before, reply) if expect.metrics_move else []
        return _check_prometheus(reply, expect.prometheus, expect.metric_names) + moved
    if case.api in ("health", "raw") and not expect.json_keys:
        return []  # vLLM's /health has an empty body; the status says it all
    body, problem = reply.json_body()
    if problem:
        return [problem]
    failures: list[str] = []
    if case.api == "models" and expect.validate_schema:
        failures.extend(ctx.schemas.problems("models_list", body))
    if expect.models_served:
        ids = [m.get("id") for m in body.get("data", []) if isinstance(m, Mapping)]
        if ctx.served_model not in ids:
            failures.append(f"/v1/models lists {ids}, not the served model {ctx.served_model!r}")
    for key in expect.json_keys:
        if not isinstance(body, Mapping) or key not in body:
            failures.append(f"{reply.label}: body has no key {key!r}: {reply.text[:200]!r}")
    return failures


def _check_generation(case: FunctionalCase, observed: Observation, ctx: CheckContext) -> list[str]:
    reply = observed.reply
    failures: list[str] = []
    if case.stream:
        framing = read_stream(reply.raw, reply.content_type)
        failures.extend(framing.problems)
        schema: SchemaName = "chat_chunk" if case.api == "chat" else "completion_chunk"
        if case.expect.validate_schema:
            for number, chunk in enumerate(framing.chunks):
                problems = ctx.schemas.problems(schema, chunk, where=f"chunk {number}")
                if problems:
                    failures.extend(problems)
                    break
        answer = from_chunks(case.api, framing.chunks)
        failures.extend(
            check_stream_shape(
                case, answer, framing.chunks, observed.request, ctx.completions_usage == "finish"
            )
        )
    else:
        body, problem = reply.json_body()
        if problem:
            return [*failures, problem]
        if case.expect.validate_schema:
            name: SchemaName = "chat_completion" if case.api == "chat" else "completion"
            failures.extend(ctx.schemas.problems(name, body))
        answer = from_body(case.api, body)
    failures.extend(check_answer(case, answer, observed.request, ctx.reasoning_key))
    if case.send_model:
        failures.extend(
            check_identity(answer, observed.request, ctx.served_model, reply.received_at)
        )
    failures.extend(check_logprob_values(answer))
    failures.extend(check_text_integrity(answer, observed.request))
    failures.extend(_compare_twins(case, answer, observed))
    failures.extend(_second_opinions(case, answer, observed))
    return failures


def _second_opinions(case: FunctionalCase, answer: Answer, observed: Observation) -> list[str]:
    """Expectations checked against another request: /tokenize, the unstopped answer."""
    expect = case.expect
    failures: list[str] = []
    if expect.choices_differ:
        failures.extend(check_choices_differ(answer))
    if expect.prompt_tokens_match_tokenize:
        tokenized = observed.tokenized
        if tokenized is None or tokenized.status != 200:
            shown = tokenized.describe() if tokenized else "not sent"
            failures.append(f"/tokenize of the same input failed: {shown}")
        else:
            failures.extend(check_prompt_tokens(answer, tokenized.json_body()[0]))
    if expect.stop_from_answer:
        unstopped = observed.unstopped
        stop = observed.request.get("stop")
        if unstopped is None or unstopped.status != 200 or not isinstance(stop, list):
            shown = unstopped.describe() if unstopped else "not sent"
            failures.append(f"no stop string could be taken from the answer without stop: {shown}")
        else:
            text = assistant_text(case.api, unstopped, case.stream)
            failures.extend(check_stopped(answer, text, stop))
    return failures


def _answer_of(case: FunctionalCase, reply: Reply, stream: bool) -> tuple[Answer | None, str]:
    if reply.status != 200:
        return None, reply.describe()
    if stream:
        return from_chunks(case.api, read_stream(reply.raw, reply.content_type).chunks), ""
    body, problem = reply.json_body()
    if problem:
        return None, problem
    return from_body(case.api, body), ""


def _compare_twins(case: FunctionalCase, answer: Answer, observed: Observation) -> list[str]:
    failures: list[str] = []
    twins = []
    if case.expect.matches_non_stream:
        twins.append(("the same request without streaming", observed.non_stream_twin, False))
    if case.expect.repeatable:
        twins.append(("the same request sent again", observed.repeat, case.stream))
    for what, reply, stream in twins:
        if reply is None:
            failures.append(f"the runner did not send {what}")
            continue
        other, why = _answer_of(case, reply, stream)
        if other is None:
            failures.append(f"{what} failed: {why}")
            continue
        mine, theirs = _comparable(answer), _comparable(other)
        if mine != theirs:
            failures.append(
                f"answer differs from {what}: {_short(mine)} versus {_short(theirs)} "
                "(index, content, reasoning, tool calls, finish_reason)"
            )
    return failures


def _comparable(answer: Answer) -> list[tuple[Any, ...]]:
    """What must be equal between two answers to one greedy request: every choice's content,
    reasoning (either key), tool calls (name and arguments) and finish_reason."""
    return [
        (
            c.index,
            c.text,
            "".join(v for _, v in sorted(c.reasoning.items())),
            tuple((call.name, call.arguments) for call in c.tool_calls),
            c.finish_reason,
        )
        for c in answer.choices
    ]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 240 else text[:240] + "..."


def _counters(reply: Reply) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    try:
        families = list(text_string_to_metric_families(reply.text))
    except (ValueError, TypeError, IndexError):
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
        if sample.name.endswith(("_total", "_count", "_sum"))
    }


def metrics_moved(before: Reply | None, after: Reply) -> list[str]:
    """Some counter of /metrics went up across a served request (pure)."""
    if before is None or before.status != 200:
        return [
            f"/metrics before the request failed: {before.describe() if before else 'not sent'}"
        ]
    old, new = _counters(before), _counters(after)
    if not any(value > old.get(key, 0.0) for key, value in new.items()):
        return [
            f"no counter of /metrics moved across a served request ({len(new)} counters "
            "compared): the values are stale"
        ]
    return []


def _check_prometheus(reply: Reply, parse: bool, names: list[str]) -> list[str]:
    failures: list[str] = []
    if parse and not reply.content_type.lower().startswith("text/plain"):
        failures.append(f"/metrics content-type is {reply.content_type!r}, expected text/plain")
    try:
        families = list(text_string_to_metric_families(reply.text))
    except (ValueError, TypeError, IndexError) as exc:
        return [*failures, f"/metrics is not Prometheus text exposition: {exc}"]
    if parse and not families:
        failures.append("/metrics exposes no metric family")
    seen = {f.name for f in families} | {s.name for f in families for s in f.samples}
    for name in names:
        if name not in seen:
            failures.append(f"/metrics has no metric {name!r}")
    return failures
