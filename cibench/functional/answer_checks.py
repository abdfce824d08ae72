"""Checks on a reassembled `Answer`: choices, content, tools, reasoning, logprobs, usage (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from cibench.config.functional import FunctionalCase
from cibench.config.relations import evaluate, parse_relation
from cibench.functional.answer import REASONING_KEYS, Answer, Choice, ToolCall


def expected_choice_count(api: str, request: Mapping[str, Any]) -> int:
    """`n` times the number of prompts (completions accept a list of prompts)."""
    n = request.get("n")
    count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    prompt = request.get("prompt")
    is_batch = isinstance(prompt, list) and all(isinstance(p, str | list) for p in prompt)
    if api == "completions" and prompt and is_batch:
        count *= len(prompt)
    return count


def max_tokens_of(request: Mapping[str, Any]) -> int | None:
    """The output cap the request set (`max_completion_tokens` wins over `max_tokens`)."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _include_usage(request: Mapping[str, Any]) -> tuple[bool, bool]:
    options = request.get("stream_options")
    if not isinstance(options, Mapping):
        return False, False
    return bool(options.get("include_usage")), bool(options.get("continuous_usage_stats"))


def check_stream_shape(
    case: FunctionalCase,
    answer: Answer,
    chunks: Sequence[Any],
    request: Mapping[str, Any],
    usage_on_finish: bool = False,
) -> list[str]:
    """Stream-only rules: one id, role first, one finish_reason per choice, the usage chunk.

    `usage_on_finish`: the probe found this server's completions streams carry usage on the
    finish chunk (llama.cpp) instead of a separate `choices: []` chunk; that chunk must then
    be the last one.
    """
    failures: list[str] = []
    if len(answer.chunk_ids) > 1:
        failures.append(f"chunks carry {len(answer.chunk_ids)} different ids, expected one")
    for choice in answer.choices:
        where = f"choice {choice.index}"
        if case.api == "chat":
            if choice.first_chunk_role != "assistant":
                failures.append(
                    f"{where}: first chunk has delta.role {choice.first_chunk_role!r}, "
                    "expected 'assistant'"
                )
            if any(role != "assistant" for role in choice.roles):
                failures.append(f"{where}: delta.role values {choice.roles}, expected 'assistant'")
        if len(choice.finish_reasons) != 1:
            failures.append(
                f"{where}: {len(choice.finish_reasons)} chunks carry a finish_reason "
                f"({choice.finish_reasons}), expected exactly one"
            )
        elif choice.chunks_after_finish:
            failures.append(
                f"{where}: {choice.chunks_after_finish} chunk(s) after its finish_reason"
            )
    on_finish = usage_on_finish and case.api == "completions"
    failures.extend(_check_usage_chunks(chunks, request, on_finish))
    return failures


def _check_usage_chunks(
    chunks: Sequence[Any], request: Mapping[str, Any], on_finish: bool
) -> list[str]:
    include_usage, continuous = _include_usage(request)
    with_usage = [i for i, c in enumerate(chunks) if isinstance(c.get("usage"), Mapping)]
    last = len(chunks) - 1
    failures: list[str] = []
    if include_usage:
        if not chunks or last not in with_usage or (chunks[last].get("choices") and not on_finish):
            failures.append(
                "stream_options.include_usage: the last chunk must have 'choices': [] and usage"
                if not on_finish
                else "stream_options.include_usage: the last chunk must carry usage (this "
                "server's probe found usage on the finish chunk of completions streams)"
            )
        if not continuous and any(i != last for i in with_usage):
            failures.append(
                f"usage in {len(with_usage) - 1} chunk(s) before the final usage chunk "
                "(continuous_usage_stats was not asked for)"
            )
        if continuous:
            texts = [i for i, c in enumerate(chunks) if has_text(c)]
            bare = [i for i in texts if i not in with_usage]
            if bare:
                failures.append(
                    f"stream_options.continuous_usage_stats: {len(bare)} of {len(texts)} "
                    "chunk(s) with generated text carry no usage"
                )
    elif with_usage and not continuous and not (on_finish and with_usage == [last]):
        failures.append(
            f"{len(with_usage)} chunk(s) carry usage although stream_options.include_usage "
            "was not set"
        )
    return failures


def has_text(chunk: Mapping[str, Any]) -> bool:
    """Whether a chat or completions chunk carries generated text (content or reasoning)."""
    for raw in chunk.get("choices") or []:
        choice = raw if isinstance(raw, Mapping) else {}
        delta = choice.get("delta")
        source = delta if isinstance(delta, Mapping) else choice
        for key in ("content", "text", *REASONING_KEYS):
            piece = source.get(key)
            if isinstance(piece, str) and piece:
                return True
    return False


def check_answer(
    case: FunctionalCase,
    answer: Answer,
    request: Mapping[str, Any],
    reasoning_key: str | None,
) -> list[str]:
    """Every expectation and always-on rule that applies to the reassembled answer."""
    expect = case.expect
    failures: list[str] = []
    count = (
        expect.choices if expect.choices is not None else expected_choice_count(case.api, request)
    )
    indices = [c.index for c in answer.choices]
    if indices != list(range(count)):
        failures.append(f"choice indices {indices}, expected {list(range(count))}")
    tools = _tools_by_name(request)
    for choice in answer.choices:
        failures.extend(_check_choice(case, choice, tools, reasoning_key))
    failures.extend(_check_usage(case, answer, request, count))
    return failures


def _check_choice(
    case: FunctionalCase,
    choice: Choice,
    tools: Mapping[str, Mapping[str, Any]],
    reasoning_key: str | None,
) -> list[str]:
    expect = case.expect
    where = f"choice {choice.index}"
    failures: list[str] = []
    allowed = expect.finish_reason
    if allowed is not None:
        wanted = [allowed] if isinstance(allowed, str) else allowed
        if choice.finish_reason not in wanted:
            failures.append(
                f"{where}: finish_reason {choice.finish_reason!r}, expected {' or '.join(wanted)}"
            )
    text = choice.text
    if expect.content_regex and not re.search(expect.content_regex, text):
        failures.append(f"{where}: content {_clip(text)} does not match /{expect.content_regex}/")
    if expect.content_not_regex and re.search(expect.content_not_regex, text):
        failures.append(f"{where}: content {_clip(text)} matches /{expect.content_not_regex}/")
    if expect.content_empty and text.strip():
        failures.append(f"{where}: content {_clip(text)}, expected none")
    if expect.content_is_json or expect.content_json_schema is not None:
        failures.extend(_check_json_content(where, text, expect.content_json_schema))
    failures.extend(_check_tools(where, case, choice, tools))
    failures.extend(_check_reasoning(where, expect.reasoning, choice, reasoning_key))
    failures.extend(_check_logprobs(where, case, choice))
    return failures


def _clip(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_json_content(where: str, text: str, schema: Mapping[str, Any] | None) -> list[str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"{where}: content is not JSON ({exc.msg}): {_clip(text)}"]
    if schema is None:
        if not isinstance(value, dict):
            return [f"{where}: content is JSON {type(value).__name__}, expected an object"]
        return []
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: e.path)
    return [
        f"{where}: content does not validate against the requested schema: {e.message}"
        for e in errors[:3]
    ]


def _tools_by_name(request: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    tools: dict[str, Mapping[str, Any]] = {}
    for tool in request.get("tools") or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            tools[function["name"]] = parameters if isinstance(parameters, Mapping) else {}
    return tools


def _check_tools(
    where: str, case: FunctionalCase, choice: Choice, tools: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    expect = case.expect
    calls = choice.tool_calls
    failures: list[str] = []
    if expect.tool_calls is True and not calls:
        failures.append(f"{where}: no tool_calls (content {_clip(choice.text)})")
    if expect.tool_calls is False and calls:
        failures.append(f"{where}: {len(calls)} tool call(s), expected none")
    for number, call in enumerate(calls):
        failures.extend(_check_call(f"{where} tool_calls[{number}]", case, call, tools))
    return failures


def _check_call(
    where: str, case: FunctionalCase, call: ToolCall, tools: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    expect = case.expect
    failures: list[str] = []
    if not call.id:
        failures.append(f"{where}: no id")
    if case.stream and call.name_deltas != 1:
        failures.append(f"{where}: function name streamed in {call.name_deltas} chunks, expected 1")
    if call.name not in tools:
        failures.append(f"{where}: calls {call.name!r}, which is not among the tools {list(tools)}")
    if expect.tool_name is not None and call.name != expect.tool_name:
        failures.append(f"{where}: calls {call.name!r}, expected {expect.tool_name!r}")
    try:
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return [*failures, f"{where}: arguments are not JSON ({exc.msg}): {_clip(call.arguments)}"]
    if not isinstance(arguments, dict):
        failures.append(f"{where}: arguments are JSON {type(arguments).__name__}, not an object")
    elif expect.tool_arguments_valid and call.name is not None and call.name in tools:
        for error in list(Draft202012Validator(tools[call.name]).iter_errors(arguments))[:3]:
            failures.append(
                f"{where}: arguments {_clip(call.arguments)} break the tool schema: {error.message}"
            )
    return failures


def _check_reasoning(
    where: str, wanted: bool | None, choice: Choice, reasoning_key: str | None
) -> list[str]:
    if wanted is None:
        return []
    present = {k: v for k, v in choice.reasoning.items() if v.strip()}
    keys = (reasoning_key,) if reasoning_key else REASONING_KEYS
    found = [k for k in keys if k in present]
    if wanted and not found:
        others = [k for k in present if k not in keys]
        hint = f"; found reasoning under {others} instead" if others else ""
        return [f"{where}: no non-empty reasoning under {' or '.join(keys)}{hint}"]
    if wanted is False and present:
        return [f"{where}: reasoning present under {list(present)}, expected none"]
    return []


def _check_logprobs(where: str, case: FunctionalCase, choice: Choice) -> list[str]:
    expect = case.expect
    failures: list[str] = []
    if expect.logprobs is True and (not choice.logprobs_seen or not choice.top_counts):
        failures.append(f"{where}: no logprobs for the generated tokens")
    if expect.logprobs is False and choice.logprobs_seen:
        failures.append(f"{where}: logprobs present, expected null")
    k = expect.top_logprobs
    if k is not None:
        # completions may add the sampled token to the k alternatives (vLLM: k or k+1)
        allowed = {k} if case.api == "chat" else {k, k + 1}
        wrong = sorted({n for n in choice.top_counts if n not in allowed})
        if not choice.top_counts:
            failures.append(f"{where}: no top_logprobs, expected {k} per token")
        elif wrong:
            failures.append(
                f"{where}: top_logprobs has {wrong} entries per token, expected {sorted(allowed)}"
            )
    return failures


def _check_usage(
    case: FunctionalCase, answer: Answer, request: Mapping[str, Any], count: int
) -> list[str]:
    relations = [parse_relation(text) for text in case.expect.usage]
    usage = answer.usage
    if usage is None:
        return (
            ["no usage in the response, but the case checks usage relations"] if relations else []
        )
    failures = [
        problem for relation in relations if (problem := evaluate(relation, usage, request))
    ]
    total = parse_relation("total_tokens == prompt_tokens + completion_tokens")
    if usage.get("completion_tokens") is not None and (problem := evaluate(total, usage, request)):
        failures.append(problem)
    cap = max_tokens_of(request)
    completion_tokens = usage.get("completion_tokens")
    if count == 1 and len(answer.choices) == 1 and cap is not None:
        reason = answer.choices[0].finish_reason
        if reason == "length" and isinstance(completion_tokens, int) and completion_tokens < cap:
            failures.append(
                f"finish_reason 'length' but only {completion_tokens} of max_tokens {cap} "
                "tokens were generated"
            )
        if isinstance(completion_tokens, int) and completion_tokens > cap:
            failures.append(f"{completion_tokens} completion tokens exceed max_tokens {cap}")
    return failures
