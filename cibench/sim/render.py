"""Response bodies and SSE chunks in vLLM's shapes, with byte templates for the per-token path.

SSE framing follows vLLM: each event is `data: <json>\\n\\n`; a chat stream starts with a chunk
whose delta carries `role: assistant` (and empty content); `finish_reason` is set on the last
token's chunk only; `include_usage` adds one chunk with `choices: []` and `usage`;
`continuous_usage_stats` adds the running usage to every chunk; the stream ends with
`data: [DONE]`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cibench.sim import textgen, tokenizer
from cibench.sim.plan import CONTENT, REASONING, TOOL_ARGS, ChoicePlan

DONE = b"data: [DONE]\n\n"
_SWAPPED_FINISH = {"length": "stop", "stop": "length", "tool_calls": "stop"}


# one encoder: json.dumps with keyword arguments builds a new encoder on every call
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


@functools.lru_cache(maxsize=65536)
def _piece_json(piece: str) -> str:
    """JSON string literal of a token; pieces repeat a lot, so they are encoded once."""
    return _ENCODER.encode(piece)


def sse(payload: Mapping[str, Any]) -> bytes:
    """One SSE event."""
    return b"data: " + _dumps(payload).encode() + b"\n\n"


def error_body(
    envelope: str, message: str, err_type: str, status: int, param: str | None
) -> dict[str, Any]:
    """An OpenAI error body: nested (vLLM >= 0.10.1) or flat (older vLLM)."""
    if envelope == "flat":
        return {
            "object": "error",
            "message": message,
            "type": err_type,
            "param": param,
            "code": status,
        }
    return {"error": {"message": message, "type": err_type, "param": param, "code": status}}


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """Switches that change response shapes."""

    reasoning: bool = False
    reasoning_key: str = "reasoning_content"
    wrong_finish_reason: bool = False
    include_reasoning: bool = True


class Renderer:
    """Builds one request's response (non-stream body or stream chunks)."""

    def __init__(
        self,
        api: str,
        request_id: str,
        created: int,
        model: str,
        plans: list[ChoicePlan],
        prompt_tokens: int,
        settings: RenderSettings,
        logprobs: int | None = None,
        prompts: tuple[str, ...] = (),
        echo: bool = False,
    ) -> None:
        self._api = api
        self._plans = plans
        self._prompt_tokens = prompt_tokens
        self._settings = settings
        self._logprobs = logprobs
        self._prompts = prompts
        self._echo = echo
        self._id = request_id
        self._created = created
        self._model = model
        obj = "chat.completion.chunk" if api == "chat" else "text_completion"
        self._head = (
            f'data: {{"id":{_dumps(request_id)},"object":"{obj}","created":{created},'
            f'"model":{_dumps(model)},"choices":[{{"index":'
        ).encode()
        self._reasoning_key = _dumps(settings.reasoning_key)

    def _finish(self, plan: ChoicePlan) -> str:
        reason = plan.finish_reason
        return _SWAPPED_FINISH.get(reason, reason) if self._settings.wrong_finish_reason else reason

    def _usage(self, completion: int, reasoning: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self._prompt_tokens,
            "total_tokens": self._prompt_tokens + completion,
            "completion_tokens": completion,
            "prompt_tokens_details": None,
        }
        if self._settings.reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def usage(self) -> dict[str, Any]:
        """Final usage over every choice."""
        return self._usage(
            sum(p.num_tokens for p in self._plans), sum(p.num_reasoning for p in self._plans)
        )

    # ---- streaming -------------------------------------------------------------------------

    def opening(self, plan: ChoicePlan) -> bytes:
        """The chat role chunk sent with a choice's first token (empty for completions)."""
        if self._api != "chat":
            return b""
        return (
            self._head
            + f'{plan.index},"delta":{{"role":"assistant","content":""}},"logprobs":null,'
            '"finish_reason":null}]}\n\n'.encode()
        )

    def token_chunk(self, plan: ChoicePlan, step: int, continuous_usage: bool) -> bytes:
        """The chunk(s) for token `step` of `plan`; the last one carries the finish reason."""
        last = step >= plan.num_tokens - 1
        finish = f'"{self._finish(plan)}"' if last else "null"
        piece = plan.pieces[step] if step < plan.num_tokens else ""
        kind = plan.kinds[step] if step < plan.num_tokens else CONTENT
        usage = ""
        if continuous_usage:
            done = min(step + 1, plan.num_tokens)
            usage = ',"usage":' + _dumps(self._usage(done, min(done, plan.num_reasoning)))
        if self._api != "chat":
            if self._echo and step == 0:
                text_json = _dumps(self._prompts[plan.prompt_index] + piece)
            else:
                text_json = _piece_json(piece)
            lp_json = "null"
            if self._logprobs is not None:
                lp_json = _dumps(self._completion_logprobs(plan, step, step + 1))
            return (
                self._head
                + f'{plan.index},"text":{text_json},"logprobs":{lp_json},'
                f'"finish_reason":{finish},"stop_reason":null}}]{usage}}}\n\n'.encode()
            )
        out = b""
        if kind == TOOL_ARGS:
            assert plan.tool_call is not None
            if step == 0 or plan.kinds[step - 1] != TOOL_ARGS:
                header = {
                    "tool_calls": [
                        {
                            "id": plan.tool_call.call_id,
                            "type": "function",
                            "index": 0,
                            "function": {"name": plan.tool_call.name, "arguments": ""},
                        }
                    ]
                }
                out += (
                    self._head
                    + (
                        f'{plan.index},"delta":{_dumps(header)},"logprobs":null,'
                        '"finish_reason":null}]}\n\n'
                    ).encode()
                )
            delta = (
                '{"tool_calls":[{"index":0,"function":{"arguments":' + _piece_json(piece) + "}}]}"
            )
        elif kind == REASONING:
            delta = "{" + self._reasoning_key + ":" + _piece_json(piece) + "}"
            if not self._settings.include_reasoning:
                delta = "{}"
        else:
            delta = '{"content":' + _piece_json(piece) + "}"
        lp_json = "null"
        if self._logprobs is not None and kind == CONTENT:
            lp_json = _dumps({"content": [self._chat_logprob(plan, step)]})
        return (
            out
            + self._head
            + (
                f'{plan.index},"delta":{delta},"logprobs":{lp_json},"finish_reason":{finish}}}]{usage}}}\n\n'
            ).encode()
        )

    def usage_chunk(self) -> bytes:
        """The final `choices: []` chunk for `include_usage`."""
        return (
            self._head[: self._head.rindex(b'"choices"')]
            + f'"choices":[],"usage":{_dumps(self.usage())}}}\n\n'.encode()
        )

    # ---- non-streaming ----------------------------------------------------------------------

    def body(self) -> dict[str, Any]:
        """The complete non-streaming response."""
        if self._api == "chat":
            choices = [self._chat_choice(p) for p in self._plans]
            obj = "chat.completion"
        else:
            choices = [self._completion_choice(p) for p in self._plans]
            obj = "text_completion"
        return {
            "id": self._id,
            "object": obj,
            "created": self._created,
            "model": self._model,
            "choices": choices,
            "usage": self.usage(),
            "prompt_logprobs": None,
            "system_fingerprint": None,
        }

    def _chat_choice(self, plan: ChoicePlan) -> dict[str, Any]:
        content = plan.text_of(CONTENT)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content
            if content or (plan.tool_call is None and not plan.num_reasoning)
            else None,
            "refusal": None,
            "tool_calls": [],
        }
        if plan.tool_call is not None:
            message["tool_calls"] = [
                {
                    "id": plan.tool_call.call_id,
                    "type": "function",
                    "function": {"name": plan.tool_call.name, "arguments": plan.text_of(TOOL_ARGS)},
                }
            ]
        if self._settings.reasoning:
            reasoning = plan.text_of(REASONING) if self._settings.include_reasoning else ""
            message[self._settings.reasoning_key] = reasoning or None
        logprobs = None
        if self._logprobs is not None:
            logprobs = {
                "content": [
                    self._chat_logprob(plan, i) for i, k in enumerate(plan.kinds) if k == CONTENT
                ]
            }
        return {
            "index": plan.index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": self._finish(plan),
            "stop_reason": None,
        }

    def _completion_choice(self, plan: ChoicePlan) -> dict[str, Any]:
        text = plan.text_of(CONTENT)
        logprobs = None
        if self._echo:
            text = self._prompts[plan.prompt_index] + text
        if self._logprobs is not None:
            logprobs = self._completion_logprobs(plan, 0, plan.num_tokens)
        return {
            "index": plan.index,
            "text": text,
            "logprobs": logprobs,
            "finish_reason": self._finish(plan),
            "stop_reason": None,
            "prompt_logprobs": None,
        }

    # ---- logprobs ---------------------------------------------------------------------------

    def _chat_logprob(self, plan: ChoicePlan, step: int) -> dict[str, Any]:
        piece = plan.pieces[step]
        k = self._logprobs or 0
        return {
            "token": piece,
            "logprob": textgen.token_logprob(piece, step, plan.salt),
            "bytes": list(piece.encode("utf-8")),
            "top_logprobs": [
                {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))}
                for t, lp in textgen.top_logprobs(piece, step, plan.salt, k)
            ],
        }

    def _completion_logprobs(self, plan: ChoicePlan, start: int, stop: int) -> dict[str, Any]:
        """Completions-style logprobs for tokens [start, stop), with the echoed prompt first."""
        k = max(1, self._logprobs or 0)  # vLLM always includes the sampled token
        tokens: list[str] = []
        token_logprobs: list[float | None] = []
        top: list[dict[str, float] | None] = []
        offsets: list[int] = []
        offset = 0
        if self._echo:
            prompt = self._prompts[plan.prompt_index]
            if start == 0:
                for j, piece in enumerate(tokenizer.split(prompt)):
                    tokens.append(piece)
                    offsets.append(offset)
                    offset += len(piece)
                    lp = None if j == 0 else textgen.token_logprob(piece, -j, plan.salt)
                    token_logprobs.append(lp)
                    top.append(None if lp is None else {piece: lp})
            else:
                offset = len(prompt)
        offset += sum(len(p) for p in plan.pieces[:start])
        for step in range(start, min(stop, plan.num_tokens)):
            piece = plan.pieces[step]
            tokens.append(piece)
            offsets.append(offset)
            offset += len(piece)
            token_logprobs.append(textgen.token_logprob(piece, step, plan.salt))
            top.append(dict(textgen.top_logprobs(piece, step, plan.salt, k)))
        return {
            "text_offset": offsets,
            "token_logprobs": token_logprobs,
            "tokens": tokens,
            "top_logprobs": top,
        }
