"""Render gate verdicts as a compact terminal table and as `gates.json`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cibench.gates.rules import Verdict

HEADER = ("stage", "scenario", "load point", "metric", "baseline", "current", "delta", "verdict")
MAX_SUBJECT_CHARS = 40


def format_value(value: float | None) -> str:
    """Four significant digits, or `-` for no value."""
    if value is None or math.isnan(value):
        return "-"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


def format_delta(delta: float | None) -> str:
    """A relative change as a signed percentage (`+12.3%`), or `-`."""
    if delta is None:
        return "-"
    return f"{delta * 100:+.1f}%"


def verdict_text(verdict: Verdict) -> str:
    """`PASS`, `FAIL`, `no data` or `no baseline`, with the detail when there is one."""
    status = verdict.status.upper() if verdict.status in ("pass", "fail") else verdict.status
    return f"{status} ({verdict.detail})" if verdict.detail else status


def table_rows(verdicts: Sequence[Verdict]) -> list[tuple[str, ...]]:
    """One row of cells per verdict, in the order given."""
    rows: list[tuple[str, ...]] = []
    for verdict in verdicts:
        subject = verdict.subject
        if len(subject) > MAX_SUBJECT_CHARS:
            subject = subject[: MAX_SUBJECT_CHARS - 1] + "…"
        rows.append(
            (
                verdict.stage,
                verdict.scenario,
                subject or "-",
                verdict.metric,
                format_value(verdict.baseline),
                format_value(verdict.current),
                format_delta(verdict.delta),
                verdict_text(verdict),
            )
        )
    return rows


def render_table(verdicts: Sequence[Verdict]) -> list[str]:
    """The gate table as lines of aligned columns (header first)."""
    rows = [HEADER, *table_rows(verdicts)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    """A verdict as a JSON object (SPEC §8 fields plus where it applies)."""
    return {
        "gate": verdict.gate,
        "stage": verdict.stage,
        "scenario": verdict.scenario,
        "load_point": verdict.subject if verdict.stage == "perf" else None,
        "subject": verdict.subject,
        "metric": verdict.metric,
        "baseline": verdict.baseline,
        "current": verdict.current,
        "delta": verdict.delta,
        "threshold": verdict.threshold,
        "verdict": verdict.status,
        "detail": verdict.detail,
    }


def write_gates_json(path: Path, document: dict[str, Any], verdicts: Sequence[Verdict]) -> None:
    """Write `gates.json`: the run-level fields in `document` plus every verdict."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {**document, "verdicts": [verdict_record(verdict) for verdict in verdicts]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_verdicts(path: Path) -> list[Verdict]:
    """The verdicts stored in a `gates.json` (an empty list when the file does not exist)."""
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Verdict(
            gate=str(record["gate"]),
            stage=str(record["stage"]),
            scenario=str(record["scenario"]),
            subject=str(record.get("subject") or ""),
            metric=str(record["metric"]),
            current=record.get("current"),
            baseline=record.get("baseline"),
            threshold=record.get("threshold"),
            status=record["verdict"],
            detail=str(record.get("detail") or ""),
        )
        for record in data.get("verdicts", [])
    ]
