"""Prompts from a user's dataset file (`dataset:` in a perf profile): JSONL, ShareGPT or CSV.

Nothing is downloaded: the user gives the file. Rows are read, turned into chat turns (a
ShareGPT conversation keeps every turn up to its last human one; the replies become
`assistant` turns), shuffled with the profile seed, filtered by length and cut to the number
needed. Every problem is a `CibenchError` naming the file, the row and what to do.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cibench.config.perf import DatasetSpec
from cibench.errors import CibenchError

__all__ = ["DatasetPrompt", "load_dataset", "read_rows"]

_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
          "system": "system", "chatgpt": "assistant", "bing": "assistant"}  # fmt: skip
DOCS = "docs/perf.md#dataset-prompts"


@dataclass(frozen=True, slots=True)
class DatasetPrompt:
    """One request's chat turns (the last is the user's) and its expected output length."""

    messages: tuple[dict[str, str], ...]
    output_tokens: int | None = None

    @property
    def text(self) -> str:
        """All turns' text joined (the prompt for the completions API, and for sizing)."""
        return "\n".join(message["content"] for message in self.messages)


def _problem(path: Path, where: str, what: str) -> CibenchError:
    return CibenchError(f"dataset {path}: {where}: {what} (see {DOCS})")


def _output_tokens(path: Path, where: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        tokens = int(value)
    except (TypeError, ValueError):
        raise _problem(path, where, f"output length {value!r} is not a whole number") from None
    if tokens < 1:
        raise _problem(path, where, f"output length {tokens} must be >= 1")
    return tokens


def _text_row(spec: DatasetSpec, path: Path, where: str, row: Any) -> DatasetPrompt | None:
    if not isinstance(row, dict):
        raise _problem(path, where, "expected an object per row")
    if spec.prompt_field not in row:
        raise _problem(path, where, f"no '{spec.prompt_field}' field (set dataset.prompt_field)")
    text = row[spec.prompt_field]
    if not isinstance(text, str):
        raise _problem(path, where, f"'{spec.prompt_field}' is not text")
    if not text.strip():
        return None
    output = _output_tokens(path, where, row.get(spec.output_field)) if spec.output_field else None
    return DatasetPrompt(({"role": "user", "content": text},), output)


def _sharegpt_row(path: Path, where: str, row: Any) -> DatasetPrompt | None:
    turns = row.get("conversations") if isinstance(row, dict) else None
    if not isinstance(turns, list):
        raise _problem(path, where, "a ShareGPT row needs a 'conversations' list")
    messages: list[dict[str, str]] = []
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise _problem(path, where, "each turn needs 'from' and a text 'value'")
        role = _ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            raise _problem(path, where, f"unknown speaker {turn.get('from')!r}")
        messages.append({"role": role, "content": turn["value"]})
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    if last_user < 0 or not messages[last_user]["content"].strip():
        return None
    # the reply to the last human turn, when present, sets the expected output length
    reply = messages[last_user + 1]["content"] if last_user + 1 < len(messages) else None
    output = max(1, len(reply) // 4) if reply else None  # ~4 characters per token
    return DatasetPrompt(tuple(messages[: last_user + 1]), output)


def read_rows(spec: DatasetSpec, path: Path) -> Iterator[DatasetPrompt]:
    """Every usable row of the file, in file order (empty prompts skipped)."""
    if not path.is_file():
        raise CibenchError(
            f"dataset file {path} not found: give the file's path in dataset.path (relative to "
            f"the current directory); see {DOCS} for where real datasets come from"
        )
    try:
        if spec.format == "csv":
            with path.open(newline="", encoding="utf-8") as handle:
                for number, row in enumerate(csv.DictReader(handle), start=2):
                    prompt = _text_row(spec, path, f"line {number}", row)
                    if prompt is not None:
                        yield prompt
            return
        if spec.format == "sharegpt":
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise _problem(path, "whole file", f"not a JSON list ({exc})") from None
            if not isinstance(rows, list):
                raise _problem(path, "whole file", "a ShareGPT file is a JSON list of rows")
            for number, row in enumerate(rows):
                prompt = _sharegpt_row(path, f"row {number}", row)
                if prompt is not None:
                    yield prompt
            return
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise _problem(path, f"line {number}", "not a JSON object") from None
                prompt = _text_row(spec, path, f"line {number}", row)
                if prompt is not None:
                    yield prompt
    except UnicodeDecodeError as exc:
        raise _problem(path, "whole file", f"not UTF-8 text ({exc.reason})") from None


def load_dataset(
    spec: DatasetSpec, needed: int, seed: str, count: Callable[[str], int] | None
) -> list[DatasetPrompt]:
    """`needed` prompts: the usable rows shuffled with `seed` (the runner's differs per load
    point and repeat, as its synthetic prompts do), those whose prompt length
    (`count` tokens, or ~4 characters per token without a counter) lies within the spec's
    bounds, the first `needed` of them."""
    path = Path(spec.path)
    rows = list(read_rows(spec, path))
    random.Random(f"{seed}:dataset").shuffle(rows)
    chosen: list[DatasetPrompt] = []
    for row in rows:
        if len(chosen) == needed:
            break
        length = count(row.text) if count is not None else len(row.text) // 4
        if spec.min_input_tokens is not None and length < spec.min_input_tokens:
            continue
        if spec.max_input_tokens is not None and length > spec.max_input_tokens:
            continue
        chosen.append(row)
    if len(chosen) < needed:
        raise CibenchError(
            f"dataset {path}: {len(chosen)} usable rows of {len(rows)} within the length "
            f"bounds, but the profile needs {needed} (warmup + num_requests x epochs): use a "
            "larger file, widen min_input_tokens/max_input_tokens, or ask for fewer requests"
        )
    return chosen
