"""Gate verdicts as JUnit cases: failing gates fail, unsettled ones are skipped with the reason."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from cibench.gates.rules import Verdict
from cibench.report.junit import append_gate_cases

VERDICTS = [
    Verdict("completeness", "perf", "local-sim", "", "stage results", 1.0),
    Verdict(
        "ttft_p99",
        "perf",
        "local-sim",
        "c4",
        "TTFT P99 (s)",
        0.26,
        0.2,
        0.1,
        "fail",
        low=0.2,
        high=0.4,
    ),
    Verdict(
        "qps",
        "perf",
        "local-sim",
        "c4",
        "QPS",
        4.0,
        4.1,
        0.05,
        "inconclusive",
        low=-0.08,
        high=0.03,
    ),
]


def test_gate_cases_join_pytests_own_suite_and_a_rerun_replaces_them(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1">'
        '<testcase classname="tests.perf" name="test_perf[c4]" time="1.0"/></testsuite>'
        "</testsuites>"
    )

    append_gate_cases(path, VERDICTS)
    append_gate_cases(path, VERDICTS)  # `cibench gate` run again: still one gate suite

    root = ElementTree.parse(path).getroot()
    assert [s.get("name") for s in root.findall("testsuite")] == ["pytest", "cibench.gates"]
    suite = root.findall("testsuite")[1]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["completeness", "ttft_p99[c4]", "qps[c4]"]
    assert cases["completeness"].find("*") is None
    failure = cases["ttft_p99[c4]"].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "TTFT P99 (s): 0.2 -> 0.26 (+30.0% [+20.0%, +40.0%]), limit 0.1: fail"
    )
    skipped = cases["qps[c4]"].find("skipped")
    assert skipped is not None
    assert "inconclusive" in str(skipped.get("message"))
    assert cases["qps[c4]"].get("classname") == "cibench.gates.local-sim"
