"""Seeded mixed Chinese/English prompts sized in tokens, and the request bodies that carry them.

Pure apart from the `count` callable it is given (the server's `/tokenize`, or the
`usage.prompt_tokens` of a probe: see `tokencount.py`). Every prompt has its own seed
(profile seed, input length, epoch, index), so prompts differ from their first words on and a
server's prefix cache cannot serve one request from another.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cibench.config.perf import LoadPoint, PerfProfile

__all__ = [
    "CountTokens",
    "SizedPrompt",
    "chat_body",
    "random_units",
    "request_body",
    "size_prompt",
    "unsized_prompts",
]

GUESSED_TOKENS_PER_UNIT = 1.5
"""Starting guess of tokens per text unit, refined by the first measured prompt."""

CountTokens = Callable[[str], int]
"""Prompt text -> the prompt tokens the server will see (chat template included for chat)."""

_ENGLISH_TEXT = (
    "the model answers every question with care and a short explanation about systems "
    "network latency throughput memory cache token batch server request stream window "
    "river mountain garden morning evening window paper music engine market history "
    "science language number signal pattern value simple quick bright quiet gentle "
    "strong early later always never often between before after under above around "
    "build measure compare describe explain observe travel listen remember follow"
)
_ENGLISH = tuple(_ENGLISH_TEXT.split())
_CHINESE = (
    "模型回答问题时需要给出简短的解释与推理过程我们测试服务器吞吐量和延迟缓存令牌批次"
    "山水花园早晨夜晚音乐历史科学语言数字信号规律价值简单快速明亮安静温和强大"
    "建立测量比较描述解释观察旅行倾听记住跟随天气城市朋友学校工作生活时间"
)


@dataclass(frozen=True, slots=True)
class SizedPrompt:
    """A prompt, the token count the server reported for it (None: not measured), its units."""

    text: str
    tokens: int | None
    units: int


def random_units(rng: random.Random, count: int) -> list[str]:
    """`count` text units, each an English word (with a space) or a run of 1-3 Chinese chars."""
    units: list[str] = []
    for _ in range(count):
        if rng.random() < 0.5:
            units.append(rng.choice(_ENGLISH) + " ")
        else:
            start = rng.randrange(len(_CHINESE) - 3)
            units.append(_CHINESE[start : start + rng.randint(1, 3)])
    return units


def size_prompt(
    seed: str,
    target: int,
    tolerance: int,
    count: CountTokens,
    tokens_per_unit: float = GUESSED_TOKENS_PER_UNIT,
) -> SizedPrompt:
    """Grow or cut a seeded unit sequence until `count(text)` is within `tolerance` of `target`.

    Starts from `tokens_per_unit` (a guess the caller refines from earlier prompts), corrects
    proportionally, then walks one unit at a time; returns the closest prompt found (the
    caller records the residual difference).
    """
    rng = random.Random(seed)
    pool = random_units(rng, max(8, int(target * 4 / max(tokens_per_unit, 0.25)) + 16))
    units = max(1, min(len(pool), round(target / max(tokens_per_unit, 0.05))))
    best: SizedPrompt | None = None
    seen: dict[int, int] = {}
    for _ in range(24):
        while units > len(pool):
            pool.extend(random_units(rng, len(pool)))
        if units not in seen:
            seen[units] = count("".join(pool[:units]).strip())
        tokens = seen[units]
        if best is None or abs(tokens - target) < abs((best.tokens or 0) - target):
            best = SizedPrompt("".join(pool[:units]).strip(), tokens, units)
        error = target - tokens
        if abs(error) <= tolerance:
            break
        per_unit = tokens / units if units else tokens_per_unit
        step = round(error / max(per_unit, 0.05))
        if step == 0 or units + step in seen:
            step = 1 if error > 0 else -1
            if units + step in seen:
                break
        units = max(1, units + step)
    assert best is not None
    return best


def _sampling(profile: PerfProfile, point: LoadPoint) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "max_tokens": point.output_length,
        "temperature": profile.temperature,
        "top_p": profile.top_p,
    }
    if profile.top_k != -1:
        fields["top_k"] = profile.top_k
    if profile.ignore_eos:
        fields["ignore_eos"] = True
        fields["min_tokens"] = point.output_length
    if profile.stream:
        fields["stream"] = True
        fields["stream_options"] = {"include_usage": True}
    return fields


def chat_body(prompt: str) -> dict[str, Any]:
    """The `messages` part of a chat request for one user prompt."""
    return {"messages": [{"role": "user", "content": prompt}]}


def request_body(profile: PerfProfile, point: LoadPoint, model: str, prompt: str) -> bytes:
    """The JSON body for one request of `point`, encoded once before any clock starts."""
    body: dict[str, Any] = {"model": model}
    body.update(chat_body(prompt) if profile.api == "chat" else {"prompt": prompt})
    body.update(_sampling(profile, point))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def prompt_seed(profile: PerfProfile, point: LoadPoint, epoch: int, index: int) -> str:
    """The per-prompt seed: warmup prompts use epoch -1."""
    return f"{profile.seed}:{point.input_length}:{epoch}:{index}"


def build_prompts(
    seeds: Sequence[str],
    target: int,
    tolerance: int,
    count: CountTokens,
    exact: int | None = None,
) -> list[SizedPrompt]:
    """One prompt per seed, sized with `count`, the tokens-per-unit ratio carried forward.

    With `exact` set, only the first `exact` prompts are measured; the others take the
    calibrated unit count unmeasured (for servers where counting costs a real request).
    """
    prompts: list[SizedPrompt] = []
    ratio = GUESSED_TOKENS_PER_UNIT
    for position, seed in enumerate(seeds):
        if exact is not None and position >= exact and prompts:
            units = max(1, round(target / ratio))
            text = "".join(random_units(random.Random(seed), units)).strip()
            prompts.append(SizedPrompt(text, None, units))
            continue
        prompt = size_prompt(seed, target, tolerance, count, ratio)
        prompts.append(prompt)
        if prompt.tokens:
            ratio = max(0.05, prompt.tokens / prompt.units)
    return prompts


def unsized_prompts(seeds: Sequence[str], target: int) -> list[SizedPrompt]:
    """Prompts of the guessed unit count, unmeasured (when the server cannot count tokens)."""
    units = max(1, round(target / GUESSED_TOKENS_PER_UNIT))
    return [
        SizedPrompt("".join(random_units(random.Random(seed), units)).strip(), None, units)
        for seed in seeds
    ]
