"""`functional.csv`: one row per case (suite, case_id, status, reason, duration_s); write, read.

Each pytest process appends to its own file (`functional.csv`, or `functional-gw0.csv` under
xdist), so workers never interleave rows; readers take every `functional*.csv` of a stage dir.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["pass", "fail", "skip"]
STATUSES: dict[str, Status] = {"pass": "pass", "fail": "fail", "skip": "skip"}
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


def read_results(stage_dir: Path) -> list[CaseResult]:
    """Every row of every `functional*.csv` in `stage_dir`, read by header name."""
    results: list[CaseResult] = []
    for path in sorted(stage_dir.glob("functional*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                status = STATUSES.get(row["status"])
                if status is None:
                    continue
                results.append(
                    CaseResult(
                        suite=row["suite"],
                        case_id=row["case_id"],
                        status=status,
                        reason=row.get("reason") or "",
                        duration_s=float(row.get("duration_s") or 0.0),
                    )
                )
    return results
