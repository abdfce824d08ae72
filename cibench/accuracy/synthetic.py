"""Generate a synthetic GPQA-shaped CSV of invented arithmetic questions (never real GPQA rows).

The questions exist to exercise the accuracy plumbing offline: same columns as GPQA, multi-line
and comma-laden cells, and text that must be escaped in HTML. Run
`python -m cibench.accuracy.synthetic OUT.csv [--rows N] [--seed S]` to write one.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from cibench.accuracy.dataset import REQUIRED_COLUMNS

SYNTHETIC_COLUMNS = ("Record ID", *REQUIRED_COLUMNS, "Source")
SOURCE_LABEL = "cibench synthetic (invented; not GPQA)"

Maker = Callable[[random.Random], tuple[str, int]]


def _sum(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    return f"What is {a} + {b}?", a + b


def _product(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(3, 19), rng.randint(3, 19)
    return f"Compute <i>{a} × {b}</i> (the tags are literal text, not markup).", a * b


def _units(rng: random.Random) -> tuple[str, int]:
    per, count = rng.randint(2, 12), rng.randint(2, 12)
    question = (
        f"On the invented planet Zeta, 1 glorp = {per} snarks.\n"
        f"How many snarks are in {count} glorps?"
    )
    return question, per * count


def _remainder(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(20, 200), rng.randint(3, 11)
    return f"What is the remainder of {a} divided by {b}, i.e. {a} mod {b}?", a % b


def _compare(rng: random.Random) -> tuple[str, int]:
    values = rng.sample(range(1, 100), 3)
    shown = ", ".join(str(v) for v in values)
    return f'Of the numbers "{shown}", which one is the largest & why? Give the number.', max(
        values
    )


MAKERS: Sequence[Maker] = (_sum, _product, _units, _remainder, _compare)


def _distractors(rng: random.Random, correct: int) -> list[int]:
    wrong: set[int] = set()
    while len(wrong) < 3:
        candidate = correct + rng.choice((-1, 1)) * rng.randint(1, max(3, correct // 4 + 1))
        if candidate != correct and candidate >= 0:
            wrong.add(candidate)
    return sorted(wrong)


def generate_rows(count: int, seed: int = 0) -> list[dict[str, str]]:
    """`count` invented questions with one correct and three distinct wrong numeric answers."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for number in range(1, count + 1):
        question, correct = MAKERS[(number - 1) % len(MAKERS)](rng)
        wrong = _distractors(rng, correct)
        rows.append(
            {
                "Record ID": f"synthetic-{number:03d}",
                "Question": f"[SYNTHETIC #{number:03d}] {question}",
                "Correct Answer": str(correct),
                "Incorrect Answer 1": str(wrong[0]),
                "Incorrect Answer 2": str(wrong[1]),
                "Incorrect Answer 3": str(wrong[2]),
                "Source": SOURCE_LABEL,
            }
        )
    return rows


def write_csv(path: Path, count: int, seed: int = 0) -> Path:
    """Write `count` synthetic rows to `path` (parents created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SYNTHETIC_COLUMNS)
        writer.writeheader()
        writer.writerows(generate_rows(count, seed))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a synthetic CSV."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--rows", type=int, default=40, help="number of questions (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    print(write_csv(args.out, args.rows, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
