"""A functional case's row in `functional.csv` (suite, case_id, status, reason, duration_s).

Rows are appended through `cibench.artifacts.ScenarioWriter.record_case`: each pytest process
writes its own file (`functional.csv`, or `functional-gw0.csv` under xdist), so workers never
interleave rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cibench.artifacts import FunctionalCaseRow
from cibench.redact import scrub

Status = Literal["pass", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "skip")
_REASON_LIMIT = 500


@dataclass(slots=True)
class CaseRecord:
    """Filled by a functional test: the failures its checks found (the reason when it fails)."""

    failures: list[str] = field(default_factory=list)


def one_line(text: str, limit: int = _REASON_LIMIT) -> str:
    """`text` squeezed onto one line and clipped, for the reason column."""
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def case_row(
    suite: str, case_id: str, status: Status, reason: str, duration_s: float
) -> FunctionalCaseRow:
    """The CSV row of one case: the reason on one clipped line, the duration to the millisecond."""
    return FunctionalCaseRow(
        suite=suite,
        case_id=case_id,
        status=status,
        reason=scrub(one_line(reason)),
        duration_s=round(duration_s, 3),
    )
