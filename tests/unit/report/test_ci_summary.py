"""The CI job summary: the gate table in Markdown (failing first) and the JUnit totals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cibench.cli import main
from cibench.report.ci_summary import main as summary_main
from cibench.report.ci_summary import read_junit, summary
from tests.support.artifacts import write_complete_run


def junit_of(tmp_path: Path) -> Path:
    """A real JUnit file: pytest run on one passing and one failing test."""
    tests = tmp_path / "test_two.py"
    tests.write_text("def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2, 'x|y'\n")
    junit = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests),
         f"--junitxml={junit}", "--rootdir", str(tmp_path)],
        capture_output=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    return junit


def test_failing_gates_come_first_and_failed_tests_are_named(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    baseline = write_complete_run(artifacts / "base", ttft_p99=0.2)
    current = write_complete_run(artifacts / "current", ttft_p99=0.4)
    configs = str(tmp_path / "configs")
    assert main(["gate", str(current), "--baseline", str(baseline), "--configs", configs]) == 6

    lines = summary(artifacts, junit_of(tmp_path))
    text = "\n".join(lines)

    assert "### Gates: current (**1 failing gate(s)**)" in text
    table = [line for line in lines if line.startswith("| perf") or line.startswith("| all")]
    assert "TTFT P99" in table[0]
    assert "FAIL" in table[0]
    assert "+100.0%" in table[0]
    assert "2 tests: 1 passed, 1 failed, 0 errors, 0 skipped" in text
    assert "test_two::test_bad" in text
    assert "x\\|y" in text  # a pipe in a message does not break the table


def test_missing_files_are_said_not_raised(tmp_path: Path) -> None:
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "session.json").write_text("{}")

    assert summary_main([str(tmp_path), "--junit", str(tmp_path / "none.xml")]) == 0
    text = "\n".join(summary(tmp_path, tmp_path / "none.xml"))
    assert "the run ended before its gates" in text
    assert "No JUnit file" in text
    assert "No run directory" in "\n".join(summary(tmp_path / "empty", None))


def test_junit_totals_count_errors_and_skips(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"
    path.write_text(
        '<testsuites><testsuite name="s">'
        '<testcase classname="a" name="ok"/>'
        '<testcase classname="a" name="skip"><skipped message="no"/></testcase>'
        '<testcase classname="a" name="err"><error message="boom">trace</error></testcase>'
        "</testsuite></testsuites>"
    )
    totals = read_junit(path)

    assert (totals.tests, totals.failures, totals.errors, totals.skipped) == (3, 0, 1, 1)
    assert totals.failed == [("a::err", "boom")]
