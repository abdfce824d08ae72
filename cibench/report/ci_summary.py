"""`python -m cibench.report.ci_summary ARTIFACTS [--junit FILE]`: a CI job summary in Markdown.

Prints the gate table of every run under ARTIFACTS (`<run_id>/gates.json`, failing gates first)
and the JUnit totals with the failed test cases, for GitHub's `$GITHUB_STEP_SUMMARY` or a GitLab
job log. Missing files are reported in the text, never an error: the step runs after a failed
job too (exit status 0 unless the arguments are wrong).
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cibench.artifacts import RunReader
from cibench.errors import CibenchError
from cibench.gates.rules import Verdict
from cibench.report.summary import HEADER, condense, table_rows

MAX_FAILED_CASES = 30
MAX_MESSAGE_CHARS = 200


@dataclass
class JUnitTotals:
    """Counts of a JUnit XML file and its failed cases (`classname::name`, first message line)."""

    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def gates_section(run_dir: Path) -> list[str]:
    """`### Gates: <run>` and its table, failing rows first; a line when there is no gates.json."""
    path = run_dir / "gates.json"
    if not path.is_file():
        return [f"### Gates: {run_dir.name}", "", f"No `{path}`: the run ended before its gates."]
    try:
        gates = RunReader(run_dir).gates()
    except CibenchError as exc:
        return [f"### Gates: {run_dir.name}", "", str(exc)]
    records = gates.verdicts if gates else []
    verdicts = condense([Verdict.from_record(record) for record in records])
    failing = [v for v in verdicts if v.status == "fail"]
    ordered = failing + [v for v in verdicts if v.status != "fail"]
    verdict = f"**{len(failing)} failing gate(s)**" if failing else "all gates passed"
    return [
        f"### Gates: {run_dir.name} ({verdict})",
        "",
        *markdown_table(HEADER, table_rows(ordered)),
    ]


def read_junit(path: Path) -> JUnitTotals:
    """Totals over every `<testsuite>` of a JUnit XML file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = JUnitTotals()
    for suite in suites:
        for case in suite.iter("testcase"):
            totals.tests += 1
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
                if problem is not None:
                    totals.errors += 1
            else:
                totals.failures += 1
            if case.find("skipped") is not None:
                totals.skipped += 1
            if problem is not None:
                message = (problem.get("message") or problem.text or "").strip().splitlines()
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                first = message[0][:MAX_MESSAGE_CHARS] if message else ""
                totals.failed.append((name, first))
    return totals


def junit_section(path: Path) -> list[str]:
    """`### Tests` with totals and up to `MAX_FAILED_CASES` failed cases."""
    if not path.is_file():
        return ["### Tests", "", f"No JUnit file at `{path}`."]
    try:
        totals = read_junit(path)
    except ET.ParseError as exc:
        return ["### Tests", "", f"`{path}` is not valid JUnit XML ({exc})."]
    passed = totals.tests - totals.failures - totals.errors - totals.skipped
    lines = [
        "### Tests",
        "",
        f"{totals.tests} tests: {passed} passed, {totals.failures} failed, "
        f"{totals.errors} errors, {totals.skipped} skipped",
    ]
    if totals.failed:
        shown = totals.failed[:MAX_FAILED_CASES]
        lines += ["", *markdown_table(("failed test", "message"), shown)]
        if len(totals.failed) > len(shown):
            lines.append(f"... and {len(totals.failed) - len(shown)} more (see the JUnit file)")
    return lines


def summary(artifacts: Path, junit: Path | None) -> list[str]:
    """The whole summary: one gates section per run directory, then the JUnit section."""
    runs = sorted(path.parent for path in artifacts.glob("*/session.json"))
    lines = ["## cibench"]
    if not runs:
        lines += ["", f"No run directory under `{artifacts}`."]
    for run_dir in runs:
        lines += ["", *gates_section(run_dir)]
    if junit is not None:
        lines += ["", *junit_section(junit)]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary to stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m cibench.report.ci_summary", description=__doc__.splitlines()[0]
    )
    parser.add_argument("artifacts", type=Path, help="the artifacts directory (artifacts/)")
    parser.add_argument("--junit", type=Path, help="a JUnit XML file written by --junitxml")
    args = parser.parse_args(argv)
    print("\n".join(summary(args.artifacts, args.junit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
