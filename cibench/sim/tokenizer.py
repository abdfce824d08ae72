"""A deterministic regex tokenizer with reversible token ids and a documented chat template.

Splitting rules, applied left to right:

* the chat-template markers `<|im_start|>` and `<|im_end|>` are one token each;
* an ASCII word with at most one leading space (` hello`) or a digit run with at most one
  leading space is cut into chunks of 4 characters (` hel`, `lo`);
* a run of spaces/tabs not absorbed by a following word is cut into chunks of 4;
* every other character (CJK ideographs, kana, punctuation, newline, emoji, ...) is one token.

Every non-special token is at most 4 UTF-8 bytes, so its id is those bytes read as a big-endian
integer (reversible, no vocabulary file); the two markers get ids 2**32 and 2**32 + 1.

Chat template (ChatML-like), used both for `usage.prompt_tokens` and for `/tokenize` with
`messages`, so the two always agree:

    <|im_start|>system\\n# Tools\\n{tools as compact JSON}<|im_end|>\\n   (only with tools)
    <|im_start|>{role}\\n{content}<|im_end|>\\n                          (every message)
    <|im_start|>assistant\\n                                    (add_generation_prompt)

where `content` joins the `text` of list-of-parts content, and an assistant message's tool
calls are appended as `<tool_call>{"name": ..., "arguments": ...}</tool_call>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
_SPECIALS = (IM_START, IM_END)
_SPECIAL_BASE = 1 << 32
_CHUNK = 4

_PATTERN = re.compile(
    r"(<\|im_start\|>|<\|im_end\|>)"  # 1: chat markers
    r"|( ?[A-Za-z]+| ?[0-9]+|[ \t]+)"  # 2: words, numbers, blank runs (chunked)
    r"|(.)",  # 3: any other single character, newline included
    re.DOTALL,
)


def split(text: str) -> list[str]:
    """Token strings of `text`; joining them gives `text` back exactly."""
    pieces: list[str] = []
    append = pieces.append
    for match in _PATTERN.finditer(text):
        run = match.group(2)
        if run is None:
            append(match.group(0))
        elif len(run) <= _CHUNK:
            append(run)
        else:
            pieces.extend(run[i : i + _CHUNK] for i in range(0, len(run), _CHUNK))
    return pieces


def count(text: str) -> int:
    """Number of tokens in `text`."""
    return len(split(text))


def piece_id(piece: str) -> int:
    """The id of one token string."""
    if piece in _SPECIALS:
        return _SPECIAL_BASE + _SPECIALS.index(piece)
    return int.from_bytes(piece.encode("utf-8"), "big")


def encode(text: str) -> list[int]:
    """Token ids of `text`."""
    return [piece_id(p) for p in split(text)]


def decode_piece(token_id: int) -> str:
    """The text of one id; ids that are not valid UTF-8 decode with replacement characters."""
    if token_id >= _SPECIAL_BASE:
        index = token_id - _SPECIAL_BASE
        return _SPECIALS[index] if index < len(_SPECIALS) else ""
    raw = token_id.to_bytes(max(1, (token_id.bit_length() + 7) // 8), "big")
    return raw.decode("utf-8", errors="replace")


def decode(token_ids: Sequence[int]) -> str:
    """Text of a list of ids (inverse of `encode`)."""
    return "".join(decode_piece(t) for t in token_ids)


def is_valid_id(token_id: object) -> bool:
    """Whether `token_id` is an id `decode` accepts."""
    return (
        isinstance(token_id, int)
        and not isinstance(token_id, bool)
        and 0 <= token_id < _SPECIAL_BASE + len(_SPECIALS)
    )


def content_text(content: object) -> str:
    """The text of a message `content`: a string, a list of parts, or None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


def render_chat(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text the chat template makes of `messages` (see the module docstring)."""
    parts: list[str] = []
    if tools:
        tools_json = json.dumps(list(tools), separators=(",", ":"), ensure_ascii=False)
        parts.append(f"{IM_START}system\n# Tools\n{tools_json}{IM_END}\n")
    for message in messages:
        text = content_text(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            payload = {"name": function.get("name"), "arguments": function.get("arguments")}
            text += f"<tool_call>{json.dumps(payload, ensure_ascii=False)}</tool_call>"
        parts.append(f"{IM_START}{message.get('role')}\n{text}{IM_END}\n")
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n")
    return "".join(parts)
