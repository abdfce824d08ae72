"""Seeded pseudo-text (mixed English/Chinese), the accuracy answer letter, and fake logprobs.

Every piece returned by `pseudo_pieces` is exactly one token for `tokenizer.split`, and a run
of pieces re-tokenizes into the same pieces, so `usage.completion_tokens` equals the number
of pieces streamed and equals `/tokenize` of the generated text.

Accuracy rule: when the last user message contains the text "Answer: $LETTER" (the
simple-evals template), the content ends with a line `Answer: L` where
L = "ABCD"[sha256(last user message text, utf-8).digest()[0] % 4].
"""

from __future__ import annotations

import hashlib
import random

ANSWER_TEMPLATE_MARKER = "Answer: $LETTER"

# one token each: a space and at most three letters, so the tokenizer never chunks them
_EN_WORDS = (
    " the",
    " a",
    " of",
    " to",
    " and",
    " in",
    " is",
    " it",
    " we",
    " can",
    " run",
    " new",
    " day",
    " for",
    " on",
    " by",
    " at",
    " as",
    " an",
    " be",
    " or",
    " so",
    " all",
    " one",
    " two",
    " way",
    " use",
    " set",
    " map",
    " key",
    " GPU",
    " API",
    " KV",
    " big",
    " low",
    " top",
    " end",
    " now",
    " may",
    " see",
    " fit",
    " add",
    " get",
    " put",
    " log",
    " row",
)
_EN_STARTS = (" The", " We", " It", " A", " Our", " Now", " One", " All", " Yes")
_ZH_CHARS = tuple(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工"
    "也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物"
    "现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全"
    "模型推理服务数据计算延迟吞吐队列批处理缓存令牌"
)
_EN_END = "."
_ZH_COMMA = "，"
_ZH_END = "。"
_TOP_ALTERNATIVES = (*_EN_WORDS, *_ZH_CHARS[:40])


def answer_letter(last_user_text: str) -> str:
    """The deterministic multiple-choice answer for a prompt (see the module docstring)."""
    return "ABCD"[hashlib.sha256(last_user_text.encode("utf-8")).digest()[0] % 4]


def wants_answer_line(last_user_text: str) -> bool:
    """Whether the prompt uses the simple-evals multiple-choice template."""
    return ANSWER_TEMPLATE_MARKER in last_user_text


def seed_from(*parts: object) -> int:
    """A 64-bit seed from any printable parts (stable across processes, unlike `hash`)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def pseudo_pieces(rng: random.Random, n_tokens: int) -> list[str]:
    """`n_tokens` token strings of sentences, each sentence English or Chinese."""
    out: list[str] = []
    while len(out) < n_tokens:
        length = rng.randint(6, 16)
        if rng.random() < 0.5:
            sentence = [rng.choice(_EN_STARTS)]
            sentence.extend(rng.choice(_EN_WORDS) for _ in range(length - 2))
            sentence.append(_EN_END)
        else:
            sentence = [rng.choice(_ZH_CHARS) for _ in range(length - 1)]
            if length > 8:
                sentence[length // 2] = _ZH_COMMA
            sentence.append(_ZH_END)
        out.extend(sentence)
    del out[n_tokens:]
    return out


def natural_length(rng: random.Random) -> int:
    """Where a sequence would emit EOS on its own (16 to 127 tokens)."""
    return rng.randint(16, 127)


def token_logprob(piece: str, position: int, salt: int) -> float:
    """A stable pseudo log-probability in (-4, 0] for the sampled token."""
    h = seed_from(piece, position, salt)
    return -round((h % 4000) / 1000.0, 4)


def top_logprobs(piece: str, position: int, salt: int, k: int) -> list[tuple[str, float]]:
    """`k` (token, logprob) pairs, best first; the sampled token is always the first."""
    if k <= 0:
        return []
    best = token_logprob(piece, position, salt)
    pairs = [(piece, best)]
    start = seed_from(position, salt) % len(_TOP_ALTERNATIVES)
    i = 0
    while len(pairs) < k:
        alt = _TOP_ALTERNATIVES[(start + i) % len(_TOP_ALTERNATIVES)]
        i += 1
        if alt != piece:
            pairs.append((alt, round(best - 0.5 * len(pairs), 4)))
    return pairs
