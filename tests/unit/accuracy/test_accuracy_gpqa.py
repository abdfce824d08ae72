"""The simple-evals GPQA protocol: prompt text, Random(0) draws, gold letters, regex, aggregates."""

from __future__ import annotations

import pytest

from cibench.accuracy.gpqa import (
    GpqaRow,
    SampleScore,
    aggregate,
    build_samples,
    extract_answer,
    format_prompt,
    score_response,
)
from cibench.errors import DatasetError

ROW = GpqaRow("What colour is the invented fruit zib?", "blue", ("red", "green", "grey"))


def rows(count: int) -> list[GpqaRow]:
    return [GpqaRow(f"q{i}", f"right{i}", (f"w{i}a", f"w{i}b", f"w{i}c")) for i in range(count)]


def test_prompt_is_the_simple_evals_multichoice_template() -> None:
    prompt, gold = format_prompt(ROW, (3, 1, 0, 2))
    assert prompt == (
        "Answer the following multiple choice question. The last line of your response should "
        "be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of "
        "ABCD. Think step by step before answering.\n\n"
        "What colour is the invented fruit zib?\n\n"
        "A) grey\nB) red\nC) blue\nD) green"
    )
    assert gold == "C"


@pytest.mark.parametrize(
    ("permutation", "gold"),
    [((0, 1, 2, 3), "A"), ((1, 0, 2, 3), "B"), ((2, 3, 0, 1), "C"), ((3, 2, 1, 0), "D")],
)
def test_gold_letter_is_where_the_permutation_puts_the_correct_answer(
    permutation: tuple[int, int, int, int], gold: str
) -> None:
    assert format_prompt(ROW, permutation)[1] == gold


def test_full_run_draws_one_permutation_per_row_from_random_0() -> None:
    # random.Random(0).sample(range(4), 4) three times in a row, as CPython's generator gives them
    samples = build_samples(rows(3), num_examples=None, n_repeats=1)
    assert [s.permutation for s in samples] == [(3, 1, 0, 2), (3, 1, 2, 0), (2, 3, 0, 1)]
    assert [s.row_index for s in samples] == [0, 1, 2]
    assert [s.gold for s in samples] == ["C", "D", "C"]


def test_subset_is_drawn_first_from_the_same_stream() -> None:
    # Random(0).sample(range(10), 3) == [6, 9, 0]; the permutations come after it
    samples = build_samples(rows(10), num_examples=3, n_repeats=1)
    assert [s.row_index for s in samples] == [6, 9, 0]
    assert [s.permutation for s in samples] == [(2, 3, 1, 0), (2, 1, 3, 0), (1, 3, 0, 2)]


def test_each_repeat_gets_its_own_permutation() -> None:
    samples = build_samples(rows(3), num_examples=None, n_repeats=2)
    assert [s.row_index for s in samples] == [0, 1, 2, 0, 1, 2]
    assert [s.index for s in samples] == list(range(6))
    assert samples[0].permutation == (3, 1, 0, 2)
    assert samples[3].permutation != samples[0].permutation


def test_same_seed_same_samples_other_seed_other_order() -> None:
    assert build_samples(rows(20), 5, 1, seed=7) == build_samples(rows(20), 5, 1, seed=7)
    assert build_samples(rows(20), 5, 1, seed=7) != build_samples(rows(20), 5, 1, seed=8)


def test_subset_with_repeats_is_refused_like_simple_evals() -> None:
    with pytest.raises(ValueError, match="n_repeats > 1 is only allowed"):
        build_samples(rows(10), num_examples=3, n_repeats=2)


def test_asking_for_more_questions_than_the_file_has_is_a_dataset_error() -> None:
    with pytest.raises(DatasetError, match=r"num_examples=11 but the dataset has only 10"):
        build_samples(rows(10), num_examples=11, n_repeats=1)


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("Reasoning...\nAnswer: C", "C"),
        ("Answer:$B$", "B"),
        ("answer :\tD", "D"),
        ("ANSWER: A", "A"),
        ("Final answer: b", "b"),  # captured as written; it will not equal the gold "B"
        ("Answer: A\nActually, Answer: B", "A"),  # the first match wins
        ("Answer: E", None),
        ("The answer is C", None),
        ("", None),
    ],
)
def test_answer_regex(response: str, letter: str | None) -> None:
    assert extract_answer(response) == letter


def test_score_is_exact_letter_match_as_upstream() -> None:
    assert score_response("Answer: B", "B") == SampleScore("B", 1.0, 9)
    assert score_response("Answer: b", "B") == SampleScore("b", 0.0, 9)
    assert score_response("Answer: A", "B").score == 0.0
    assert score_response("no idea", "B") == SampleScore(None, 0.0, 7)


def test_null_content_scores_zero_with_zero_chars() -> None:
    assert score_response(None, "A") == SampleScore(None, 0.0, 0)


def test_aggregate_is_mean_and_population_std() -> None:
    result = aggregate(
        [
            SampleScore("A", 1.0, 2),
            SampleScore("B", 0.0, 4),
            SampleScore(None, 0.0, 2),
            SampleScore("C", 1.0, 4),
        ]
    )
    assert result is not None
    assert (result.score, result.score_std) == (0.5, 0.5)
    assert (result.chars, result.chars_std) == (3.0, 1.0)
    assert result.n_samples == 4


def test_aggregate_of_one_sample_has_zero_std() -> None:
    result = aggregate([SampleScore("A", 1.0, 10)])
    assert result is not None
    assert (result.score, result.score_std, result.n_samples) == (1.0, 0.0, 1)


def test_aggregate_of_nothing_is_none() -> None:
    assert aggregate([]) is None
