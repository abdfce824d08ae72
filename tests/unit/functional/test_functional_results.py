"""`functional.csv`: one file per process, a header once, one clipped line per case."""

from __future__ import annotations

import csv
from pathlib import Path

from cibench.artifacts import FunctionalCaseRow, ScenarioWriter
from cibench.functional.results import case_row, one_line


def test_each_worker_writes_its_own_file(tmp_path: Path) -> None:
    writer = ScenarioWriter(tmp_path)
    row = case_row("chat_core", "basic", "pass", "", 0.1)
    assert writer.record_case(row, "master") == tmp_path / "functional.csv"
    assert writer.record_case(row, "gw3") == tmp_path / "functional-gw3.csv"


def test_rows_are_appended_under_one_header(tmp_path: Path) -> None:
    writer = ScenarioWriter(tmp_path)
    writer.record_case(case_row("chat_core", "basic", "pass", "", 0.1234))
    path = writer.record_case(case_row("guided", "json_object", "fail", "line one\n  two", 0.5))
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        FunctionalCaseRow.header(),
        ["chat_core", "basic", "pass", "", "0.123"],
        ["guided", "json_object", "fail", "line one | two", "0.5"],
    ]


def test_long_reasons_are_clipped() -> None:
    assert one_line("x" * 600, limit=10) == "xxxxxxx..."
