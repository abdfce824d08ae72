"""`functional.csv`: one row per case (suite, case_id, status, reason, duration_s), appended.

Each pytest process appends to its own file (`functional.csv`, or `functional-gw0.csv` under
xdist), so workers never interleave rows; the metrics stage reads every `functional*.csv` of
a stage directory by header name.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["pass", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "skip")
COLUMNS = ("suite", "case_id", "status", "reason", "duration_s")
_REASON_LIMIT = 500


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one functional case."""

    suite: str
    case_id: str
    status: Status
    reason: str
    duration_s: float


@dataclass(slots=True)
class CaseRecord:
    """Filled by a functional test: the failures its checks found (the reason when it fails)."""

    failures: list[str] = field(default_factory=list)


def results_path(stage_dir: Path, worker_id: str) -> Path:
    """This process's CSV file in `stage_dir`."""
    name = "functional.csv" if worker_id in ("", "master") else f"functional-{worker_id}.csv"
    return stage_dir / name


def one_line(text: str, limit: int = _REASON_LIMIT) -> str:
    """`text` squeezed onto one line and clipped, for the reason column."""
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def append_result(path: Path, result: CaseResult) -> None:
    """Append one row, writing the header first when the file is new."""
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(
            [
                result.suite,
                result.case_id,
                result.status,
                one_line(result.reason),
                f"{result.duration_s:.3f}",
            ]
        )
