"""The simple-evals GPQA protocol as pure functions: sampling, prompts, answer extraction, scores.

The protocol (not the code) comes from OpenAI's simple-evals (https://github.com/openai/simple-evals,
MIT licence, `gpqa_eval.py` and `common.py`); it is re-implemented here so that scores compare
with published simple-evals GPQA numbers:

- one `random.Random(seed)` stream (simple-evals uses seed 0) first draws the optional subset with
  `rng.sample(rows, num_examples)` (only allowed with one repeat), then the list is repeated
  `n_repeats` times and *every copy* draws its own `rng.sample(range(4), 4)` permutation of
  `[correct, incorrect 1, incorrect 2, incorrect 3]`, so repeats see different orders;
- the gold letter is `"ABCD"[permuted.index(correct)]` (the first equal text wins, as upstream);
- the prompt is one user message built from `QUERY_TEMPLATE`;
- the answer is the first match of `ANSWER_PATTERN` (case-insensitive "Answer:" with an optional
  `$` around the letter); the score is 1.0 when the captured text equals the gold letter exactly,
  so a lower-case "answer: b" scores 0 exactly as upstream does; no match or no content scores 0;
- the aggregate is the mean and the population standard deviation (numpy's default `ddof=0`) of
  the per-sample scores and of the response lengths in characters (`chars`).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cibench.errors import DatasetError

LETTERS = "ABCD"

QUERY_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be "
    "of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n"
    "\n"
    "{question}\n"
    "\n"
    "A) {a}\n"
    "B) {b}\n"
    "C) {c}\n"
    "D) {d}"
)

ANSWER_PATTERN = re.compile(r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?")


@dataclass(frozen=True, slots=True)
class GpqaRow:
    """One question of a GPQA-shaped CSV: the question, the correct and three wrong answers."""

    question: str
    correct: str
    incorrect: tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class GpqaSample:
    """One prompt to send: which row, which repeat, the answer order and the gold letter."""

    index: int
    row_index: int
    permutation: tuple[int, int, int, int]
    prompt: str
    gold: str


@dataclass(frozen=True, slots=True)
class SampleScore:
    """What one response earned: the extracted letter (None when absent), score and length."""

    extracted: str | None
    score: float
    chars: int


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Mean and population standard deviation of scores and response lengths over all samples."""

    score: float
    score_std: float
    chars: float
    chars_std: float
    n_samples: int


def format_prompt(row: GpqaRow, permutation: Sequence[int]) -> tuple[str, str]:
    """The user prompt for `row` with its answers in `permutation` order, and the gold letter."""
    choices = [row.correct, *row.incorrect]
    ordered = [choices[i] for i in permutation]
    gold = LETTERS[ordered.index(row.correct)]
    prompt = QUERY_TEMPLATE.format(
        question=row.question, a=ordered[0], b=ordered[1], c=ordered[2], d=ordered[3]
    )
    return prompt, gold


def build_samples(
    rows: Sequence[GpqaRow], num_examples: int | None, n_repeats: int, seed: int = 0
) -> list[GpqaSample]:
    """Draw the subset and one permutation per copy from a single `Random(seed)` stream.

    :param rows: the dataset in file order.
    :param num_examples: questions to sample, or None for all of them.
    :param n_repeats: copies of the (sampled) list; must be 1 when `num_examples` is set.
    :param seed: the stream's seed; simple-evals uses 0.
    :return: the samples in the order simple-evals would send them.
    """
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    rng = random.Random(seed)
    chosen = list(range(len(rows)))
    if num_examples is not None:
        if n_repeats != 1:
            raise ValueError("n_repeats > 1 is only allowed when num_examples is not set")
        if num_examples > len(rows):
            raise DatasetError(
                f"the profile asks for num_examples={num_examples} but the dataset has only "
                f"{len(rows)} questions. Lower num_examples or use a larger file."
            )
        # Sampling indices draws exactly the same numbers as sampling the rows themselves.
        chosen = rng.sample(chosen, num_examples)
    samples: list[GpqaSample] = []
    for row_index in chosen * n_repeats:
        drawn = rng.sample(range(4), 4)
        permutation = (drawn[0], drawn[1], drawn[2], drawn[3])
        prompt, gold = format_prompt(rows[row_index], permutation)
        samples.append(GpqaSample(len(samples), row_index, permutation, prompt, gold))
    return samples


def extract_answer(response: str) -> str | None:
    """The letter after the first "Answer:" (as written, possibly lower case), or None."""
    match = ANSWER_PATTERN.search(response)
    return match.group(1) if match else None


def score_response(response: str | None, gold: str) -> SampleScore:
    """Score one response against the gold letter; a missing response scores 0 with 0 chars."""
    text = response or ""
    extracted = extract_answer(text)
    return SampleScore(extracted, 1.0 if extracted == gold else 0.0, len(text))


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    variance = math.fsum((value - mean) ** 2 for value in values) / len(values)
    return mean, math.sqrt(variance)


def aggregate(scores: Sequence[SampleScore]) -> Aggregate | None:
    """Mean and std over all samples (repeats included), or None when there are none."""
    if not scores:
        return None
    score, score_std = _mean_std([s.score for s in scores])
    chars, chars_std = _mean_std([float(s.chars) for s in scores])
    return Aggregate(score, score_std, chars, chars_std, len(scores))
