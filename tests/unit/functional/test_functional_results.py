"""`functional.csv`: one file per process, a header once, one clipped line per case."""

from __future__ import annotations

import csv
from pathlib import Path

from cibench.functional.results import COLUMNS, CaseResult, append_result, one_line, results_path


def test_each_worker_writes_its_own_file(tmp_path: Path) -> None:
    assert results_path(tmp_path, "master") == tmp_path / "functional.csv"
    assert results_path(tmp_path, "gw3") == tmp_path / "functional-gw3.csv"


def test_rows_are_appended_under_one_header(tmp_path: Path) -> None:
    path = tmp_path / "functional.csv"
    append_result(path, CaseResult("chat_core", "basic", "pass", "", 0.1234))
    append_result(path, CaseResult("guided", "json_object", "fail", "line one\n  line two", 0.5))
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        list(COLUMNS),
        ["chat_core", "basic", "pass", "", "0.123"],
        ["guided", "json_object", "fail", "line one | line two", "0.500"],
    ]


def test_long_reasons_are_clipped() -> None:
    assert one_line("x" * 600, limit=10) == "xxxxxxx..."
