"""Render gate verdicts as a compact terminal table and as `gates.json`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from cibench.gates.rules import REGRESSION_GATES, Verdict

REGRESSION_GATE_NAMES = frozenset(spec.gate for spec in REGRESSION_GATES)

HEADER = (
    "stage",
    "scenario",
    "load point",
    "metric",
    "baseline",
    "current",
    "delta [interval]",
    "margin",
    "verdict",
)
MAX_SUBJECT_CHARS = 40
CONDENSED_GATES = {
    "completeness": "stages",
    "failure_ratio": "load points",
    "token_mismatch": "load points",
    "functional": "suites",
}
"""Gates whose passing verdicts the terminal table folds into one row per scenario (`all` N)."""


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


def format_interval(verdict: Verdict) -> str:
    """`+15.8% [+9.1%, +22.0%]`: the delta and its confidence interval (regression gates)."""
    text = format_delta(verdict.delta)
    if verdict.low is not None and verdict.high is not None:
        text += f" [{format_delta(verdict.low)}, {format_delta(verdict.high)}]"
    return text


def format_margin(verdict: Verdict) -> str:
    """The margin a regression gate applied (`10%`, `14.2% (history)` when the daily history
    widened it), else `-`."""
    if verdict.gate not in REGRESSION_GATE_NAMES or verdict.threshold is None:
        return "-"
    text = f"{verdict.threshold * 100:.3g}%"
    return text + " (history)" if "history:" in verdict.margin_note else text


def verdict_text(verdict: Verdict) -> str:
    """`PASS`, `FAIL`, `INCONCLUSIVE`, `excluded`, `no data` or `no baseline`, with the detail
    (and `low confidence` when the sample is smaller than configured)."""
    loud = ("pass", "fail", "inconclusive")
    status = verdict.status.upper() if verdict.status in loud else verdict.status
    return f"{status} ({verdict.detail})" if verdict.detail else status


def condense(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Fold each scenario's passing completeness, failure-ratio, token-mismatch and functional
    verdicts into one row (current = the worst value); everything else stays as it is."""
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for verdict in verdicts:
        if verdict.gate in CONDENSED_GATES:
            groups.setdefault((verdict.scenario, verdict.gate), []).append(verdict)
    out: list[Verdict] = []
    emitted: set[tuple[str, str]] = set()
    for verdict in verdicts:
        key = (verdict.scenario, verdict.gate)
        group = groups.get(key)
        if group is None or len(group) < 2 or any(v.status != "pass" for v in group):
            out.append(verdict)
            continue
        if key in emitted:
            continue
        emitted.add(key)
        values = [v.current for v in group if v.current is not None]
        stages = {v.stage for v in group}
        out.append(
            replace(
                verdict,
                stage=stages.pop() if len(stages) == 1 else "all",
                subject=f"all {len(group)} {CONDENSED_GATES[verdict.gate]}",
                current=max(values) if values and verdict.gate != "completeness" else None,
            )
        )
    return out


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
                format_interval(verdict),
                format_margin(verdict),
                verdict_text(verdict),
            )
        )
    return rows


def render_table(verdicts: Sequence[Verdict], *, compact: bool = True) -> list[str]:
    """The gate table as lines of aligned columns (header first); `compact` folds passing
    completeness-type rows (see `condense`)."""
    rows = [HEADER, *table_rows(condense(verdicts) if compact else verdicts)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines
