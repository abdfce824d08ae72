"""Validation of chat and completion request bodies into `GenRequest`, with vLLM's 400 rules.

Rules (from vLLM's `SamplingParams` and OpenAI request checks): temperature in [0, 2],
top_p in (0, 1], top_k -1/0 or >= 1, min_p in [0, 1], presence/frequency penalty in [-2, 2],
repetition_penalty > 0, max_tokens >= 1, 0 <= min_tokens <= max_tokens, n >= 1, seed within
int64, chat `top_logprobs` in [0, 20] and only with `logprobs: true`, completions `logprobs`
in [0, 20], no empty stop string, `stream_options` only with `stream: true`, known message
roles, consistent `tools`/`tool_choice`, and `response_format` json_schema carrying a schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cibench.sim import tokenizer

MAX_LOGPROBS = 20
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_INT64 = 2**63


class ApiError(Exception):
    """A request the server answers with an OpenAI error body."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        err_type: str = "BadRequestError",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.param = param


@dataclass(frozen=True, slots=True)
class Tool:
    """A function tool the model may call."""

    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GenRequest:
    """A validated generation request, for either API."""

    api: str  # "chat" or "completions"
    model: str | None
    prompts: tuple[str, ...]  # prompt text as the model sees it (chat: the rendered template)
    prompt_tokens: tuple[int, ...]  # token count per prompt
    max_tokens: int | None
    min_tokens: int
    ignore_eos: bool
    stop: tuple[str, ...]
    n: int
    seed: int | None
    temperature: float
    stream: bool
    include_usage: bool
    continuous_usage: bool
    logprobs: int | None  # number of top logprobs per token; None: no logprobs
    echo: bool
    tools: tuple[Tool, ...]
    tool_choice: str  # "none", "auto", "required" or "named"
    tool_name: str | None  # the named tool
    response_format: str  # "text", "json_object" or "json_schema"
    json_schema: Mapping[str, Any] | None
    last_user_text: str
    last_role: str
    include_reasoning: bool


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _float(
    body: Mapping[str, Any],
    key: str,
    default: float,
    low: float,
    high: float,
    low_open: bool = False,
) -> float:
    value = body.get(key)
    if value is None:
        return default
    if not _is_number(value) or not math.isfinite(float(value)):
        raise ApiError(f"{key} must be a finite number, got {value!r}.", param=key)
    number = float(value)
    too_low = number <= low if low_open else number < low
    if too_low or number > high:
        bracket = "(" if low_open else "["
        raise ApiError(f"{key} must be in {bracket}{low}, {high}], got {number}.", param=key)
    return number


def _int(body: Mapping[str, Any], key: str, low: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not _is_int(value):
        raise ApiError(f"{key} must be an integer, got {value!r}.", param=key)
    if value < low:
        raise ApiError(f"{key} must be at least {low}, got {value}.", param=key)
    return int(value)


def _sampling(body: Mapping[str, Any]) -> tuple[float, int | None, int, int | None, int]:
    """temperature, max_tokens, min_tokens, seed, n."""
    temperature = _float(body, "temperature", 1.0, 0.0, 2.0)
    _float(body, "top_p", 1.0, 0.0, 1.0, low_open=True)
    _float(body, "min_p", 0.0, 0.0, 1.0)
    _float(body, "presence_penalty", 0.0, -2.0, 2.0)
    _float(body, "frequency_penalty", 0.0, -2.0, 2.0)
    repetition = body.get("repetition_penalty")
    if repetition is not None and (not _is_number(repetition) or not 0 < repetition < math.inf):
        raise ApiError(
            f"repetition_penalty must be > 0, got {repetition!r}.", param="repetition_penalty"
        )
    top_k = _int(body, "top_k", -1)
    if top_k is not None and top_k < -1:
        raise ApiError(f"top_k must be -1 (disable) or at least 1, got {top_k}.", param="top_k")
    max_key = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    max_tokens = _int(body, max_key, 1)
    min_tokens = _int(body, "min_tokens", 0) or 0
    if max_tokens is not None and min_tokens > max_tokens:
        raise ApiError(
            f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {min_tokens}.",
            param="min_tokens",
        )
    n = _int(body, "n", 1)
    seed = body.get("seed")
    if seed is not None and (not _is_int(seed) or not -_INT64 <= seed < _INT64):
        raise ApiError(
            f"seed must be an integer between greater_than_equal -2**63 and "
            f"less_than_equal 2**63-1, got {seed!r}.",
            param="seed",
        )
    return temperature, max_tokens, min_tokens, seed, n if n is not None else 1


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ApiError("stop must be a string or a list of strings.", param="stop")
    if any(s == "" for s in items):
        raise ApiError("stop cannot contain an empty string.", param="stop")
    return tuple(items)


def _stream(body: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """stream, include_usage, continuous_usage."""
    stream = body.get("stream") is True
    options = body.get("stream_options")
    if options is None:
        return stream, False, False
    if not stream:
        raise ApiError(
            "Stream options can only be defined when `stream=True`.", param="stream_options"
        )
    if not isinstance(options, Mapping):
        raise ApiError("stream_options must be an object.", param="stream_options")
    include = options.get("include_usage") is True
    return stream, include, include and options.get("continuous_usage_stats") is True


def _tools(body: Mapping[str, Any]) -> tuple[tuple[Tool, ...], str, str | None]:
    raw_tools = body.get("tools")
    choice = body.get("tool_choice")
    tools: list[Tool] = []
    if raw_tools is not None:
        if not isinstance(raw_tools, list) or not raw_tools:
            raise ApiError("tools must be a non-empty array when given.", param="tools")
        for item in raw_tools:
            function = item.get("function") if isinstance(item, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                raise ApiError("each tool needs type 'function' and function.name.", param="tools")
            params = function.get("parameters")
            tools.append(Tool(function["name"], params if isinstance(params, Mapping) else {}))
    if choice is None:
        return tuple(tools), ("auto" if tools else "none"), None
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise ApiError(
                f"tool_choice must be 'none', 'auto', 'required' or a named "
                f"function, got {choice!r}.",
                param="tool_choice",
            )
        if choice != "none" and not tools:
            raise ApiError("When using `tool_choice`, `tools` must be set.", param="tool_choice")
        return tuple(tools), choice, None
    function = choice.get("function") if isinstance(choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str) or choice.get("type") != "function":
        raise ApiError(
            "a named tool_choice must be {'type': 'function', 'function': {'name': ...}}.",
            param="tool_choice",
        )
    if name not in {t.name for t in tools}:
        raise ApiError(
            f"tool_choice names function {name!r}, which is not in tools.", param="tool_choice"
        )
    return tuple(tools), "named", name


def _response_format(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    fmt = body.get("response_format")
    if fmt is None:
        return "text", None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind in {"text", "json_object"}:
        return kind, None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise ApiError(
                "response_format json_schema needs json_schema.schema.", param="response_format"
            )
        return kind, schema
    raise ApiError(
        f"response_format.type must be text, json_object or json_schema, got {kind!r}.",
        param="response_format",
    )


def _messages(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError("messages must be a non-empty array.", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ApiError(f"messages[{i}] must be an object.", param="messages")
        role = message.get("role")
        if role not in _ROLES:
            raise ApiError(
                f"messages[{i}].role {role!r} is not one of {sorted(_ROLES)}.", param="messages"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise ApiError(
                f"messages[{i}].content must be a string, a list of parts or null.",
                param="messages",
            )
    return messages


def parse_chat(body: Mapping[str, Any]) -> GenRequest:
    """Validate a `/v1/chat/completions` body."""
    messages = _messages(body)
    temperature, max_tokens, min_tokens, seed, n = _sampling(body)
    stream, include_usage, continuous = _stream(body)
    tools, tool_choice, tool_name = _tools(body)
    response_format, schema = _response_format(body)
    logprobs: int | None = None
    top = body.get("top_logprobs")
    if body.get("logprobs") is True:
        logprobs = 0
        if top is not None:
            if not _is_int(top) or not 0 <= top <= MAX_LOGPROBS:
                raise ApiError(
                    f"top_logprobs must be an integer in [0, {MAX_LOGPROBS}], got {top!r}.",
                    param="top_logprobs",
                )
            logprobs = int(top)
    elif top is not None and top != 0:
        raise ApiError(
            "when using `top_logprobs`, `logprobs` must be set to true.", param="top_logprobs"
        )
    # the raw tools go into the template so /tokenize with the same body counts the same
    prompt = tokenizer.render_chat(
        messages,
        body.get("tools") or None,
        add_generation_prompt=body.get("add_generation_prompt", True) is not False,
    )
    user_texts = [
        tokenizer.content_text(m.get("content")) for m in messages if m.get("role") == "user"
    ]
    return GenRequest(
        api="chat",
        model=body.get("model") or None,
        prompts=(prompt,),
        prompt_tokens=(tokenizer.count(prompt),),
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        ignore_eos=body.get("ignore_eos") is True,
        stop=_stop(body),
        n=n,
        seed=seed,
        temperature=temperature,
        stream=stream,
        include_usage=include_usage,
        continuous_usage=continuous,
        logprobs=logprobs,
        echo=False,
        tools=tools,
        tool_choice=tool_choice,
        tool_name=tool_name,
        response_format=response_format,
        json_schema=schema,
        last_user_text=user_texts[-1] if user_texts else "",
        last_role=str(messages[-1].get("role")),
        include_reasoning=body.get("include_reasoning", True) is not False,
    )


def _prompts(body: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    prompt = body.get("prompt")
    if isinstance(prompt, str) or (
        isinstance(prompt, list) and prompt and all(_is_int(t) for t in prompt)
    ):
        prompt = [prompt]
    if not isinstance(prompt, list) or not prompt:
        raise ApiError(
            "prompt must be a non-empty string, list of strings or token ids.", param="prompt"
        )
    texts: list[str] = []
    counts: list[int] = []
    for item in prompt:
        if isinstance(item, str) and item:
            texts.append(item)
            counts.append(tokenizer.count(item))
        elif isinstance(item, list) and item and all(tokenizer.is_valid_id(t) for t in item):
            texts.append(tokenizer.decode(item))
            counts.append(len(item))
        else:
            raise ApiError(
                "Either prompt or prompt_embeds must be provided and non-empty "
                "(token ids must be in the vocabulary).",
                param="prompt",
            )
    return tuple(texts), tuple(counts)


def parse_completion(body: Mapping[str, Any]) -> GenRequest:
    """Validate a `/v1/completions` body."""
    prompts, counts = _prompts(body)
    temperature, max_tokens, min_tokens, seed, n = _sampling(body)
    stream, include_usage, continuous = _stream(body)
    response_format, schema = _response_format(body)
    logprobs = body.get("logprobs")
    if logprobs is not None and (not _is_int(logprobs) or not 0 <= logprobs <= MAX_LOGPROBS):
        raise ApiError(
            f"logprobs must be an integer in [0, {MAX_LOGPROBS}], got {logprobs!r}.",
            param="logprobs",
        )
    return GenRequest(
        api="completions",
        model=body.get("model") or None,
        prompts=prompts,
        prompt_tokens=counts,
        max_tokens=max_tokens if max_tokens is not None else 16,  # OpenAI/vLLM default
        min_tokens=min_tokens,
        ignore_eos=body.get("ignore_eos") is True,
        stop=_stop(body),
        n=n,
        seed=seed,
        temperature=temperature,
        stream=stream,
        include_usage=include_usage,
        continuous_usage=continuous,
        logprobs=logprobs,
        echo=body.get("echo") is True,
        tools=(),
        tool_choice="none",
        tool_name=None,
        response_format=response_format,
        json_schema=schema,
        last_user_text=prompts[-1],
        last_role="user",
        include_reasoning=False,
    )
