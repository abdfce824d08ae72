"""Perf CSVs read back as plain dicts (header -> float, or the text when not a number), for
tests that check columns by their header names."""

from __future__ import annotations

from pathlib import Path

from cibench.artifacts.codec import read_cells

__all__ = ["read_requests", "read_summary"]


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def read_summary(path: Path | str) -> list[dict[str, float | str]]:
    """Rows of a summary CSV keyed by header name (`-1` = no data)."""
    return [{key: _value(value) for key, value in row.items()} for row in read_cells(Path(path))]


read_requests = read_summary
"""Rows of a requests CSV, the same way."""
