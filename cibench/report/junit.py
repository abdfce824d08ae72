"""Gate verdicts as JUnit test cases, appended to the JUnit XML pytest wrote (`--junitxml`).

A run that exits 6 because a regression gate tripped otherwise shows every test passed in a CI
test UI. Each verdict becomes one `<testcase classname="cibench.gates.<scenario>"
name="<gate>[<load point or suite>]">`: a `<failure>` when the gate failed, `<skipped>` when it
neither passed nor failed (`inconclusive`, `excluded`, `no data`, `no baseline`), empty when it
passed. The cases go into a `<testsuite name="cibench.gates">` of their own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from cibench.gates.rules import Verdict
from cibench.report.summary import format_interval, format_value

SUITE_NAME = "cibench.gates"


def case_name(verdict: Verdict) -> str:
    """`ttft_p99[fixed/asyncio c4 in128 out16]`, or the bare gate name without a subject."""
    return f"{verdict.gate}[{verdict.subject}]" if verdict.subject else verdict.gate


def message(verdict: Verdict) -> str:
    """One line: metric, baseline → current, delta [interval], margin, verdict and detail."""
    text = f"{verdict.metric}: "
    if verdict.baseline is not None:
        text += f"{format_value(verdict.baseline)} -> "
    text += format_value(verdict.current)
    if verdict.delta is not None:
        text += f" ({format_interval(verdict)})"
    if verdict.threshold is not None:
        text += f", limit {format_value(verdict.threshold)}"
    text += f": {verdict.status}"
    if verdict.margin_note:
        text += f"; {verdict.margin_note}"
    return text + (f" ({verdict.detail})" if verdict.detail else "")


def gate_suite(verdicts: Sequence[Verdict]) -> ET.Element:
    """A `<testsuite>` holding one test case per verdict (pure)."""
    suite = ET.Element("testsuite", name=SUITE_NAME)
    failures = skipped = 0
    for verdict in verdicts:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{SUITE_NAME}.{verdict.scenario}",
            name=case_name(verdict),
            time="0",
        )
        text = message(verdict)
        if verdict.failed:
            failures += 1
            ET.SubElement(case, "failure", message=text).text = text
        elif verdict.status != "pass":
            skipped += 1
            ET.SubElement(case, "skipped", type="pytest.skip", message=text)
    suite.set("tests", str(len(verdicts)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", "0")
    return suite


def append_gate_cases(path: Path, verdicts: Sequence[Verdict]) -> None:
    """Add the gate suite to the JUnit XML at `path` (under its `<testsuites>` root).

    Raises OSError or ET.ParseError when the file cannot be read; the caller reports it.
    """
    tree = ET.parse(path)
    root = tree.getroot()
    if root.tag != "testsuites":
        wrapper = ET.Element("testsuites")
        wrapper.append(root)
        root = wrapper
        tree = ET.ElementTree(root)
    for old in root.findall(f"testsuite[@name='{SUITE_NAME}']"):
        root.remove(old)
    root.append(gate_suite(verdicts))
    tree.write(path, encoding="utf-8", xml_declaration=True)
