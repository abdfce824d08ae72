"""Usage relations: the small language YAML cases use to state usage arithmetic."""

from __future__ import annotations

import re

import pytest

from cibench.config.relations import evaluate, parse_relation

USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 6,
    "total_tokens": 16,
    "completion_tokens_details": {"reasoning_tokens": 4},
}


@pytest.mark.parametrize(
    "text",
    [
        "total_tokens == prompt_tokens + completion_tokens",
        "completion_tokens <= request.max_tokens",
        "completion_tokens_details.reasoning_tokens < completion_tokens",
        "total_tokens - prompt_tokens == 6",
        "prompt_tokens > 0",
        "completion_tokens != 7",
        "prompt_tokens >= 10",
    ],
)
def test_relations_that_hold(text: str) -> None:
    assert evaluate(parse_relation(text), USAGE, {"max_tokens": 8}) is None


def test_a_broken_relation_shows_both_sides() -> None:
    relation = parse_relation("completion_tokens == request.max_tokens")
    assert evaluate(relation, USAGE, {"max_tokens": 8}) == (
        "usage relation 'completion_tokens == request.max_tokens' does not hold: 6 == 8 is false"
    )


def test_a_missing_field_is_reported_by_name() -> None:
    relation = parse_relation("completion_tokens_details.reasoning_tokens > 0")
    assert evaluate(relation, {"prompt_tokens": 1}, {}) == (
        "usage relation 'completion_tokens_details.reasoning_tokens > 0': "
        "'completion_tokens_details.reasoning_tokens' is missing or not an integer"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("completion_tokens", "expected '<sum> <op> <sum>'"),
        ("completion_tokens = 3", "expected '<sum> <op> <sum>'"),
        ("prompt_tokens + == 3", "a sum ends with an operator"),
        ("prompt_tokens + + 3 == 3", "misplaced '+'"),
        ("len(prompt) > 3", "'len(prompt)' is neither a field name nor an integer"),
    ],
)
def test_rejects_invalid_relations(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_relation(text)
