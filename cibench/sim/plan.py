"""Turns a validated request into the tokens each choice will emit (reasoning, content, tool call).

Determinism: a choice's text comes from a `random.Random` seeded by the prompt only when
temperature is 0 (so every choice and every seed gives the same text), by (seed, prompt,
choice index) when a seed is given, and by the server's own seeded generator otherwise.

Length: with `ignore_eos` a choice emits exactly `max_tokens` tokens (finish "length");
without it, it stops at a seeded natural EOS point of 16-127 tokens (or `min_tokens` if
larger; finish "stop") unless `max_tokens` comes first (finish "length"). Stop strings end the
content with finish "stop" (the stop string itself is not returned; tokens before `min_tokens`
are not checked). Structured outputs, tool calls and answer lines end when complete (finish
"stop" or "tool_calls"), whatever `ignore_eos` says.

Tool rule: a tool is called when tool_choice is "required" (the first tool), a named function
(that tool), or "auto" with tools present and the last message from the user (the first tool);
after a tool result (last role "tool") or with "none" the model answers in text.
With `--reasoning`, 8-31 reasoning tokens come first and count in `completion_tokens`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from cibench.sim import schemagen, textgen, tokenizer
from cibench.sim.protocol import GenRequest, Tool

REASONING, CONTENT, TOOL_ARGS = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ToolCallPlan:
    """A tool call: id, function name and the argument JSON split into tokens."""

    call_id: str
    name: str


@dataclass(slots=True)
class ChoicePlan:
    """Everything one choice emits, token by token."""

    index: int
    prompt_index: int
    pieces: list[str]
    kinds: list[int]  # REASONING, CONTENT or TOOL_ARGS per piece
    finish_reason: str
    tool_call: ToolCallPlan | None = None
    salt: int = 0  # for stable pseudo logprobs

    @property
    def num_tokens(self) -> int:
        """Completion tokens of this choice."""
        return len(self.pieces)

    @property
    def num_reasoning(self) -> int:
        """Reasoning tokens of this choice."""
        return self.kinds.count(REASONING)

    def text_of(self, kind: int) -> str:
        """The joined text of one kind of piece."""
        return "".join(p for p, k in zip(self.pieces, self.kinds, strict=True) if k == kind)


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """Server-side switches that change what is generated."""

    reasoning: bool = False
    ignore_json_schema: bool = False


def plan_choices(
    req: GenRequest, settings: PlanSettings, budgets: list[int], rng: random.Random
) -> list[ChoicePlan]:
    """Plans for every (prompt, choice); `budgets[p]` is the max_tokens in force for prompt p."""
    plans: list[ChoicePlan] = []
    for p, prompt in enumerate(req.prompts):
        for i in range(req.n):
            if req.temperature == 0.0:
                seed = textgen.seed_from("greedy", prompt)
            elif req.seed is not None:
                seed = textgen.seed_from("seeded", req.seed, prompt, i)
            else:
                seed = rng.getrandbits(64)
            plan = _plan_one(req, settings, budgets[p], random.Random(seed))
            plan.index = len(plans)
            plan.prompt_index = p
            plan.salt = seed
            plans.append(plan)
    return plans


def _chosen_tool(req: GenRequest) -> Tool | None:
    if not req.tools or req.tool_choice == "none":
        return None
    if req.tool_choice == "named":
        return next(t for t in req.tools if t.name == req.tool_name)
    if req.tool_choice == "required" or req.last_role == "user":
        return req.tools[0]
    return None


def _plan_one(
    req: GenRequest, settings: PlanSettings, budget: int, rng: random.Random
) -> ChoicePlan:
    natural = max(textgen.natural_length(rng), req.min_tokens)
    pieces: list[str] = []
    kinds: list[int] = []
    # vLLM's reasoning parser only splits chat responses; a completion is all text.
    if settings.reasoning and req.api == "chat":
        reasoning = textgen.pseudo_pieces(rng, min(rng.randint(8, 31), budget))
        pieces.extend(reasoning)
        kinds.extend([REASONING] * len(reasoning))
    room = budget - len(pieces)
    tool = _chosen_tool(req)
    structured = req.response_format != "text" and not settings.ignore_json_schema
    call: ToolCallPlan | None = None
    finish = "stop"
    if tool is not None:
        args = json.dumps(schemagen.generate(tool.parameters, rng), ensure_ascii=False)
        body = tokenizer.split(args)
        call = ToolCallPlan(f"chatcmpl-tool-{rng.getrandbits(64):016x}", tool.name)
        finish = "tool_calls"
        kind = TOOL_ARGS
    elif structured:
        if req.response_format == "json_schema" and req.json_schema is not None:
            value = schemagen.generate(req.json_schema, rng)
        else:
            value = {"result": textgen.pseudo_pieces(rng, 1)[0].strip(), "score": rng.randint(0, 9)}
        body = tokenizer.split(json.dumps(value, ensure_ascii=False))
        kind = CONTENT
    else:
        kind = CONTENT
        if textgen.wants_answer_line(req.last_user_text):
            tail = tokenizer.split("\nAnswer: " + textgen.answer_letter(req.last_user_text))
            body = textgen.pseudo_pieces(rng, max(0, min(natural, 24) - len(tail))) + tail
        elif req.ignore_eos:
            body = textgen.pseudo_pieces(rng, max(0, room))
            finish = "length"
        else:
            body = textgen.pseudo_pieces(rng, max(0, min(natural - len(pieces), room)))
            if len(body) >= room:
                finish = "length"
    if len(body) > room:
        del body[max(0, room) :]
        finish = "length"
    if kind == CONTENT and req.stop:
        body, hit = _apply_stop(body, req.stop, req.min_tokens - len(pieces))
        if hit:
            finish = "stop"
    pieces.extend(body)
    kinds.extend([kind] * len(body))
    if room <= 0:
        finish = "length"
    return ChoicePlan(0, 0, pieces, kinds, finish, call)


def _apply_stop(
    pieces: list[str], stops: tuple[str, ...], min_tokens: int
) -> tuple[list[str], bool]:
    """Cut `pieces` before the first stop string that ends at or after token `min_tokens`."""
    text = ""
    for i, piece in enumerate(pieces):
        start = len(text)
        text += piece
        if i + 1 < min_tokens:
            continue
        hits = [pos for s in stops if (pos := text.find(s, max(0, start - len(s) + 1))) >= 0]
        if not hits:
            continue
        cut = len(text) - min(hits)  # characters to drop from the end
        kept = pieces[: i + 1]
        j = len(kept) - 1
        while cut > 0 and j >= 0:
            drop = min(cut, len(kept[j]))
            kept[j] = kept[j][: len(kept[j]) - drop]
            cut -= drop
            j -= 1
        return kept, True
    return pieces, False
