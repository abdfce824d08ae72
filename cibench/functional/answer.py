"""Turn a chat/completions body, or the JSON chunks of its stream, into one `Answer` (pure).

Streams are reassembled per choice index: content and reasoning deltas concatenated, tool-call
deltas merged by their `index` (id and name taken once, arguments concatenated), every non-null
finish_reason and role kept so the checks can count them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REASONING_KEYS = ("reasoning_content", "reasoning")


@dataclass(slots=True)
class ToolCall:
    """One tool call of a choice."""

    id: str | None = None
    name: str | None = None
    arguments: str = ""
    name_deltas: int = 0  # streams: how many chunks carried a name (vLLM sends it once)


@dataclass(slots=True)
class Choice:
    """One choice, whether it came in one body or in many chunks."""

    index: int
    content: str | None = None
    reasoning: dict[str, str] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    first_chunk_role: str | None = None
    logprobs_seen: bool = False
    top_counts: list[int] = field(default_factory=list)
    logprob_values: list[Any] = field(default_factory=list)
    chunks_after_finish: int = 0

    @property
    def finish_reason(self) -> str | None:
        """The last non-null finish_reason (streams should have exactly one)."""
        return self.finish_reasons[-1] if self.finish_reasons else None

    @property
    def text(self) -> str:
        """The content, with null read as empty."""
        return self.content or ""


@dataclass(slots=True)
class Answer:
    """All choices of one response plus its usage (None when the server sent none)."""

    choices: list[Choice]
    usage: dict[str, Any] | None = None
    chunk_ids: set[str] = field(default_factory=set)
    models: list[Any] = field(default_factory=list)  # `model` of the body / of every chunk
    created: list[Any] = field(default_factory=list)  # `created` likewise


def _as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _add_text(current: str | None, piece: Any) -> str | None:
    if not isinstance(piece, str):
        return current
    return (current or "") + piece


def _top_counts_chat(logprobs: Mapping[str, Any]) -> list[int]:
    entries = logprobs.get("content") or []
    return [len(_as_mapping(e).get("top_logprobs") or []) for e in entries]


def _top_counts_completion(logprobs: Mapping[str, Any]) -> list[int]:
    tops = logprobs.get("top_logprobs") or []
    # echo puts None first (the first prompt token has no logprob); it has no alternatives
    return [len(t) for t in tops if isinstance(t, Mapping)]


def _logprob_values(api: str, logprobs: Mapping[str, Any]) -> list[Any]:
    """Every logprob number of a chat or completions `logprobs` object, alternatives too."""
    if api == "chat":
        values = []
        for entry in logprobs.get("content") or []:
            values.append(_as_mapping(entry).get("logprob"))
            values += [
                _as_mapping(t).get("logprob") for t in _as_mapping(entry).get("top_logprobs") or []
            ]
        return values
    values = [v for v in logprobs.get("token_logprobs") or [] if v is not None]
    for top in logprobs.get("top_logprobs") or []:
        values += list(_as_mapping(top).values())
    return values


def _merge_logprobs(choice: Choice, api: str, logprobs: Any) -> None:
    if not isinstance(logprobs, Mapping):
        return
    choice.logprobs_seen = True
    choice.logprob_values.extend(_logprob_values(api, logprobs))
    if api == "chat":
        choice.top_counts.extend(_top_counts_chat(logprobs))
    else:
        choice.top_counts.extend(_top_counts_completion(logprobs))


def _identity_into(answer: Answer, data: Mapping[str, Any]) -> None:
    answer.models.append(data.get("model"))
    answer.created.append(data.get("created"))


def _merge_tool_deltas(choice: Choice, deltas: Sequence[Any]) -> None:
    for position, raw in enumerate(deltas):
        delta = _as_mapping(raw)
        index = delta.get("index")
        if not isinstance(index, int) or index < 0:
            index = position
        while len(choice.tool_calls) <= index:
            choice.tool_calls.append(ToolCall())
        call = choice.tool_calls[index]
        if isinstance(delta.get("id"), str) and call.id is None:
            call.id = delta["id"]
        function = _as_mapping(delta.get("function"))
        if isinstance(function.get("name"), str) and function["name"]:
            call.name_deltas += 1
            call.name = function["name"] if call.name is None else call.name + function["name"]
        if isinstance(function.get("arguments"), str):
            call.arguments += function["arguments"]


def _reasoning_into(choice: Choice, source: Mapping[str, Any]) -> None:
    for key in REASONING_KEYS:
        piece = source.get(key)
        if isinstance(piece, str):
            choice.reasoning[key] = choice.reasoning.get(key, "") + piece


def from_body(api: str, body: Any) -> Answer:
    """The answer of a non-streamed chat (`api='chat'`) or completions body."""
    data = _as_mapping(body)
    choices: list[Choice] = []
    for position, raw in enumerate(data.get("choices") or []):
        item = _as_mapping(raw)
        index = item.get("index")
        choice = Choice(index=index if isinstance(index, int) else position)
        if api == "chat":
            message = _as_mapping(item.get("message"))
            content = message.get("content")
            choice.content = content if isinstance(content, str) else None
            if isinstance(message.get("role"), str):
                choice.roles.append(message["role"])
            _reasoning_into(choice, message)
            for call in message.get("tool_calls") or []:
                function = _as_mapping(_as_mapping(call).get("function"))
                arguments = function.get("arguments")
                choice.tool_calls.append(
                    ToolCall(
                        id=_as_mapping(call).get("id"),
                        name=function.get("name"),
                        arguments=arguments if isinstance(arguments, str) else "",
                        name_deltas=1,
                    )
                )
        else:
            text = item.get("text")
            choice.content = text if isinstance(text, str) else None
        if isinstance(item.get("finish_reason"), str):
            choice.finish_reasons.append(item["finish_reason"])
        _merge_logprobs(choice, api, item.get("logprobs"))
        choices.append(choice)
    usage = data.get("usage")
    answer = Answer(choices=choices, usage=dict(usage) if isinstance(usage, Mapping) else None)
    _identity_into(answer, data)
    return answer


def from_chunks(api: str, chunks: Sequence[Any]) -> Answer:
    """The answer reassembled from the JSON chunks of a stream (without `[DONE]`)."""
    by_index: dict[int, Choice] = {}
    answer = Answer(choices=[])
    for raw_chunk in chunks:
        chunk = _as_mapping(raw_chunk)
        _identity_into(answer, chunk)
        if isinstance(chunk.get("id"), str):
            answer.chunk_ids.add(chunk["id"])
        if isinstance(chunk.get("usage"), Mapping):
            answer.usage = dict(chunk["usage"])
        for position, raw in enumerate(chunk.get("choices") or []):
            item = _as_mapping(raw)
            raw_index = item.get("index")
            index = raw_index if isinstance(raw_index, int) else position
            first = index not in by_index
            choice = by_index.setdefault(index, Choice(index=index))
            if choice.finish_reasons:
                choice.chunks_after_finish += 1
            if api == "chat":
                delta = _as_mapping(item.get("delta"))
                role = delta.get("role")
                if isinstance(role, str):
                    choice.roles.append(role)
                if first:
                    choice.first_chunk_role = role if isinstance(role, str) else None
                choice.content = _add_text(choice.content, delta.get("content"))
                _reasoning_into(choice, delta)
                _merge_tool_deltas(choice, delta.get("tool_calls") or [])
            else:
                choice.content = _add_text(choice.content, item.get("text"))
            if isinstance(item.get("finish_reason"), str):
                choice.finish_reasons.append(item["finish_reason"])
            _merge_logprobs(choice, api, item.get("logprobs"))
    answer.choices = [by_index[i] for i in sorted(by_index)]
    return answer
