"""Usage relations such as `total_tokens == prompt_tokens + completion_tokens`: parse, evaluate.

A relation is `<sum> <op> <sum>` where a sum is `term (+|- term)*` and a term is a usage field
name (`prompt_tokens`, `completion_tokens`, `total_tokens`, or a dotted path such as
`completion_tokens_details.reasoning_tokens`), a request parameter as `request.max_tokens`, or
a non-negative integer; `op` is one of `== != <= >= < >`. Nothing is `eval`-ed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_RELATION = re.compile(
    r"^\s*(?P<left>[^<>=!]+?)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<right>[^<>=!]+?)\s*$"
)
_TERM = re.compile(r"^(?:\d+|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")


@dataclass(frozen=True, slots=True)
class Term:
    """One signed operand: a literal integer or a dotted name."""

    sign: int
    literal: int | None
    name: str | None


@dataclass(frozen=True, slots=True)
class Relation:
    """A parsed relation between two sums."""

    text: str
    left: tuple[Term, ...]
    op: str
    right: tuple[Term, ...]


def _parse_sum(text: str, relation: str) -> tuple[Term, ...]:
    tokens = [t for t in re.split(r"\s*([+-])\s*", text.strip()) if t]
    terms: list[Term] = []
    sign = 1
    expect_operand = True
    for token in tokens:
        if token in ("+", "-"):
            if expect_operand:
                raise ValueError(f"relation {relation!r}: misplaced {token!r}")
            sign = 1 if token == "+" else -1
            expect_operand = True
            continue
        if not _TERM.match(token):
            raise ValueError(
                f"relation {relation!r}: {token!r} is neither a field name nor an integer"
            )
        if token.isdigit():
            terms.append(Term(sign, int(token), None))
        else:
            terms.append(Term(sign, None, token))
        sign = 1
        expect_operand = False
    if expect_operand:
        raise ValueError(f"relation {relation!r}: a sum ends with an operator")
    return tuple(terms)


def parse_relation(text: str) -> Relation:
    """Parse `text`; raise `ValueError` saying what is wrong (used by config validation)."""
    match = _RELATION.match(text)
    if match is None:
        raise ValueError(
            f"relation {text!r}: expected '<sum> <op> <sum>' with op one of "
            f"{' '.join(_OPS)}, e.g. 'total_tokens == prompt_tokens + completion_tokens'"
        )
    return Relation(
        text=text.strip(),
        left=_parse_sum(match["left"], text),
        op=match["op"],
        right=_parse_sum(match["right"], text),
    )


def _lookup(name: str, usage: Mapping[str, Any], request: Mapping[str, Any]) -> int | None:
    source: Any = usage
    parts = name.split(".")
    if parts[0] == "request":
        source, parts = request, parts[1:]
    for part in parts:
        if not isinstance(source, Mapping) or part not in source:
            return None
        source = source[part]
    if isinstance(source, bool) or not isinstance(source, int):
        return None
    return source


def _total(
    terms: tuple[Term, ...], usage: Mapping[str, Any], request: Mapping[str, Any]
) -> tuple[int | None, str | None]:
    total = 0
    for term in terms:
        if term.literal is not None:
            total += term.sign * term.literal
            continue
        assert term.name is not None
        value = _lookup(term.name, usage, request)
        if value is None:
            return None, term.name
        total += term.sign * value
    return total, None


def evaluate(
    relation: Relation, usage: Mapping[str, Any], request: Mapping[str, Any]
) -> str | None:
    """None when the relation holds, else a sentence saying which values broke it."""
    left, missing_left = _total(relation.left, usage, request)
    right, missing_right = _total(relation.right, usage, request)
    missing = missing_left or missing_right
    if missing is not None or left is None or right is None:
        return f"usage relation '{relation.text}': '{missing}' is missing or not an integer"
    if _OPS[relation.op](left, right):
        return None
    return f"usage relation '{relation.text}' does not hold: {left} {relation.op} {right} is false"
