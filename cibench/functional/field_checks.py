"""Field-level checks on a generation answer, against vLLM's protocol (pure).

vLLM's response models (vllm/entrypoints/openai/*/protocol.py) set `model` to the name the
request used (the served model name when the request named none), `created` to
`int(time.time())` (whole seconds), and logprobs to natural logarithms of probabilities (so
never above 0). Text is UTF-8 JSON; an answer with U+FFFD where the request had none lost
bytes on the way (a token split mid-character, a wrong decoder). Each function returns the
problems it finds, one sentence each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cibench.functional.answer import Answer

CREATED_PAST_S = 86_400.0
CREATED_FUTURE_S = 3_600.0
"""`created` must lie within a day before and an hour after the answer arrived (clock skew
between the server and this machine allowed; milliseconds are 1000 times too large)."""
REPLACEMENT = "\ufffd"


def check_identity(
    answer: Answer, request: Mapping[str, Any], served_model: str, received_at: float
) -> list[str]:
    """`model` names the requested (or served) model in the body and in every chunk;
    `created` is an integer number of seconds close to when the answer arrived."""
    failures: list[str] = []
    asked = request.get("model")
    wanted = asked if isinstance(asked, str) and asked else served_model
    wrong = sorted({repr(m) for m in answer.models if m != wanted})
    if wrong:
        failures.append(f"response 'model' is {', '.join(wrong)}, expected {wanted!r}")
    for value in answer.created:
        if not isinstance(value, int) or isinstance(value, bool):
            failures.append(f"'created' is {value!r}, expected an integer Unix time in seconds")
            break
        if received_at and not (
            received_at - CREATED_PAST_S <= value <= received_at + CREATED_FUTURE_S
        ):
            failures.append(
                f"'created' is {value}, not a Unix time in seconds near now ({int(received_at)})"
            )
            break
    return failures


def check_logprob_values(answer: Answer) -> list[str]:
    """Every logprob (sampled tokens and alternatives) is a finite number <= 0."""
    for choice in answer.choices:
        for value in choice.logprob_values:
            if value is None:
                continue
            number = (
                value if isinstance(value, int | float) and not isinstance(value, bool) else None
            )
            if number is None or math.isnan(number) or number > 0:
                return [f"choice {choice.index}: logprob {value!r}, expected a number <= 0"]
    return []


def _contains_replacement(value: Any) -> bool:
    if isinstance(value, str):
        return REPLACEMENT in value
    if isinstance(value, Mapping):
        return any(_contains_replacement(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_replacement(v) for v in value)
    return False


def check_text_integrity(answer: Answer, request: Mapping[str, Any]) -> list[str]:
    """No U+FFFD in content, reasoning or tool arguments unless the request had one."""
    if _contains_replacement(request):
        return []
    for choice in answer.choices:
        texts = [choice.text, *choice.reasoning.values(), *(c.arguments for c in choice.tool_calls)]
        if any(REPLACEMENT in text for text in texts):
            return [
                f"choice {choice.index}: the answer contains U+FFFD (replacement character): "
                "text was corrupted on the way (bytes split inside a character?)"
            ]
    return []


def check_choices_differ(answer: Answer) -> list[str]:
    """Sampled choices of one request (`n` > 1, temperature > 0) are not all the same."""
    texts = [(c.text, tuple(c.reasoning.values())) for c in answer.choices]
    if len(texts) > 1 and len(set(texts)) == 1:
        return [f"all {len(texts)} sampled choices are identical: {texts[0][0][:80]!r}"]
    return []


def check_prompt_tokens(answer: Answer, tokenized: Any) -> list[str]:
    """`usage.prompt_tokens` equals /tokenize's `count` for the same prompt or messages."""
    count = tokenized.get("count") if isinstance(tokenized, Mapping) else None
    if not isinstance(count, int):
        return [f"/tokenize gave no 'count' to compare with: {str(tokenized)[:120]!r}"]
    prompt_tokens = (answer.usage or {}).get("prompt_tokens")
    if prompt_tokens != count:
        return [
            f"usage.prompt_tokens is {prompt_tokens!r} but /tokenize counts {count} tokens for "
            "the same input (a dropped or extra part of the prompt?)"
        ]
    return []


def check_stopped(answer: Answer, unstopped_text: str, stop: Sequence[str]) -> list[str]:
    """The answer to a request whose stop string comes from the unstopped answer ends before
    it, with finish_reason `stop`, and is a beginning of the unstopped answer."""
    failures: list[str] = []
    for choice in answer.choices:
        where = f"choice {choice.index}"
        if choice.finish_reason != "stop":
            failures.append(f"{where}: finish_reason {choice.finish_reason!r}, expected 'stop'")
        if any(s in choice.text for s in stop):
            failures.append(
                f"{where}: content {choice.text[:80]!r} contains the stop string {list(stop)}"
            )
        if not unstopped_text.startswith(choice.text):
            failures.append(
                f"{where}: content {choice.text[:80]!r} is not the beginning of the same request's "
                f"answer without stop ({unstopped_text[:80]!r})"
            )
    return failures
