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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cibench.config.perf import LoadPoint, PerfProfile

__all__ = [
    "CountTokens",
    "SizedPrompt",
    "build_prompts",
    "build_shared_prefix_prompts",
    "chat_body",
    "draw_lengths",
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
    if abs((best.tokens or 0) - target) > tolerance:
        below = [u for u, tokens in seen.items() if tokens <= target]
        if below:
            units = max(below)
            best = _top_up("".join(pool[:units]).strip(), units, target, tolerance, count, best)
    return best


_FILLER = " a"
"""Appended to close the last few tokens when whole units overshoot: one token in the
tokenizers tried (BPE and the simulator's), re-measured anyway."""


def _top_up(
    text: str, units: int, target: int, tolerance: int, count: CountTokens, best: SizedPrompt
) -> SizedPrompt:
    """Close the gap below `target` with filler tokens (a few more measurements at most)."""
    fillers = target - count(text)
    for _ in range(4):
        if fillers <= 0:
            break
        candidate = text + _FILLER * fillers
        tokens = count(candidate)
        if abs(tokens - target) < abs((best.tokens or 0) - target):
            best = SizedPrompt(candidate, tokens, units)
        if abs(tokens - target) <= tolerance:
            break
        fillers += target - tokens
    return best


def _sampling(profile: PerfProfile, output_length: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "max_tokens": output_length,
        "temperature": profile.temperature,
        "top_p": profile.top_p,
    }
    if profile.top_k != -1:
        fields["top_k"] = profile.top_k
    if profile.ignore_eos:
        fields["ignore_eos"] = True
        fields["min_tokens"] = output_length
    if profile.stream:
        fields["stream"] = True
        fields["stream_options"] = {"include_usage": True}
    return fields


def chat_body(prompt: str) -> dict[str, Any]:
    """The `messages` part of a chat request for one user prompt."""
    return {"messages": [{"role": "user", "content": prompt}]}


def request_body(
    profile: PerfProfile,
    point: LoadPoint,
    model: str,
    prompt: str,
    output_length: int | None = None,
    messages: Sequence[dict[str, str]] | None = None,
) -> bytes:
    """The JSON body for one request of `point` (asking for `output_length` tokens, default
    the point's), encoded once before any clock starts. Chat `messages` (a dataset's turns)
    replace the single user turn of `prompt`."""
    body: dict[str, Any] = {"model": model}
    if profile.api == "chat":
        body.update({"messages": list(messages)} if messages else chat_body(prompt))
    else:
        body["prompt"] = prompt
    body.update(_sampling(profile, output_length or point.output_length))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


CONFIRM_SALT = "confirm"
"""The salt of a confirmation's re-measurement, on the candidate and on the baseline build
alike: both send the same prompts, new to both servers."""


def measurement_seed(profile: PerfProfile, point: LoadPoint, salt: str = "") -> str:
    """The seed of one measurement of `point`: every prompt, shared prefix and dataset order
    of that measurement derives from it.

    The point's id and `salt` (which measurement of the point: "" for the first,
    `CONFIRM_SALT`, "soak-window-3", ...) are part of it because a server with a prefix cache
    (vLLM's automatic prefix caching, llama.cpp's prompt cache: both on by default) answers a
    prompt it has seen without prefilling it; the next point of a sweep, a confirmation or a
    soak window sending the same prompts again would measure the cache, not the engine."""
    return f"{profile.seed}:{point.id}:{salt}"


def prompt_seed(
    profile: PerfProfile, point: LoadPoint, epoch: int, index: int, salt: str = ""
) -> str:
    """The per-prompt seed: warmup prompts use epoch -1."""
    return f"{measurement_seed(profile, point, salt)}:{epoch}:{index}"


def prefix_seeds(profile: PerfProfile, point: LoadPoint, salt: str = "") -> list[str]:
    """The shared prefixes' seeds (`prefix_count` groups): shared within one measurement."""
    stem = measurement_seed(profile, point, salt)
    return [f"{stem}:prefix:{group}" for group in range(profile.prefix_count)]


def draw_lengths(
    profile: PerfProfile, point: LoadPoint, label: str, count: int
) -> list[tuple[int, int]]:
    """(input, output) token targets of `count` requests, seeded by the profile seed, the point
    and `label`: the point's lengths (`fixed`), or drawn per request uniformly over
    ±`length_spread` of each length, or from a normal with σ = `length_spread` × length
    (clipped to [1, 2 × length])."""
    nominal = (point.input_length, point.output_length)
    if profile.length_distribution == "fixed":
        return [nominal] * count
    rng = random.Random(f"{profile.seed}:lengths:{point.id}:{label}")
    spread = profile.length_spread

    def one(length: int) -> int:
        if profile.length_distribution == "uniform":
            drawn = length * (1.0 + rng.uniform(-spread, spread))
        else:
            drawn = rng.gauss(length, spread * length)
        return max(1, min(2 * length, round(drawn)))

    return [(one(nominal[0]), one(nominal[1])) for _ in range(count)]


def build_prompts(
    seeds: Sequence[str],
    targets: Sequence[int],
    tolerance: int,
    count: CountTokens,
    exact: int | None = None,
    workers: int = 1,
) -> list[SizedPrompt]:
    """One prompt per seed, sized to its target with `count`: the first alone (it calibrates
    the tokens-per-unit ratio), the rest `workers` at a time (`count` must be thread-safe).

    With `exact` set (counting costs a real request: a usage probe), no prompt that will be
    measured is counted. A probe is a completion, and a server with a prompt cache (llama.cpp's
    and vLLM's are on by default) keeps it: the probed prompts would then be answered from the
    cache when measured, their TTFT a cache hit's. Instead `exact` calibration prompts of their
    own seeds are sized, and every prompt takes their pooled tokens-per-unit ratio, unmeasured.
    """
    pairs = list(zip(seeds, targets, strict=True))
    if not pairs:
        return []
    if exact is not None:
        calibration = [(f"{seed}:calibration", target) for seed, target in pairs[: max(1, exact)]]
        sized = build_prompts(
            [seed for seed, _ in calibration],
            [target for _, target in calibration],
            tolerance,
            count,
            None,
            workers,
        )
        counted = [prompt for prompt in sized if prompt.tokens]
        ratio = (
            max(0.05, sum(p.tokens or 0 for p in counted) / sum(p.units for p in counted))
            if counted
            else GUESSED_TOKENS_PER_UNIT
        )
        return [_unmeasured(seed, target, ratio) for seed, target in pairs]
    first = size_prompt(pairs[0][0], pairs[0][1], tolerance, count)  # calibrates the ratio
    ratio = max(0.05, first.tokens / first.units) if first.tokens else GUESSED_TOKENS_PER_UNIT

    def sized_one(pair: tuple[str, int]) -> SizedPrompt:
        return size_prompt(pair[0], pair[1], tolerance, count, ratio)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return [first, *pool.map(sized_one, pairs[1:])]


def _unmeasured(seed: str, target: int, tokens_per_unit: float) -> SizedPrompt:
    """The seed's prompt of `target / tokens_per_unit` units, not counted."""
    units = max(1, round(target / tokens_per_unit))
    return SizedPrompt("".join(random_units(random.Random(seed), units)).strip(), None, units)


def unsized_prompts(seeds: Sequence[str], targets: Sequence[int]) -> list[SizedPrompt]:
    """Prompts of the guessed unit count, unmeasured (when the server cannot count tokens)."""
    return [
        _unmeasured(seed, target, GUESSED_TOKENS_PER_UNIT)
        for seed, target in zip(seeds, targets, strict=True)
    ]


def build_shared_prefix_prompts(
    seeds: Sequence[str],
    targets: Sequence[int],
    prefix_seeds: Sequence[str],
    prefix_length: int,
    tolerance: int,
    count: CountTokens,
    exact: int | None = None,
    workers: int = 1,
) -> list[SizedPrompt]:
    """Prompts made of one of `len(prefix_seeds)` shared prefixes (request i takes prefix
    i mod N, sized to `prefix_length` tokens) and a unique suffix, each sized so the whole
    prompt meets its target."""
    prefixes = [size_prompt(seed, prefix_length, tolerance, count).text for seed in prefix_seeds]
    groups = len(prefixes)
    prompts: list[SizedPrompt | None] = [None] * len(seeds)
    for group, prefix in enumerate(prefixes):
        head = prefix + "\n"
        base = count(head)

        def suffix_count(text: str, head: str = head, base: int = base) -> int:
            return count(head + text) - base

        members = list(range(group, len(seeds), groups))
        suffixes = build_prompts(
            [seeds[i] for i in members],
            [max(1, targets[i] - base) for i in members],
            tolerance,
            suffix_count,
            None if exact is None else max(1, exact // groups),
            workers,
        )
        for i, suffix in zip(members, suffixes, strict=True):
            tokens = None if suffix.tokens is None else base + suffix.tokens
            prompts[i] = SizedPrompt(head + suffix.text, tokens, suffix.units)
    return [prompt for prompt in prompts if prompt is not None]
