"""The terminal table and `gates.json`: readable cells, every SPEC §8 field, a round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cibench.artifacts import GatesFile, RunReader, RunWriter
from cibench.gates.rules import Verdict
from cibench.report.summary import format_delta, format_value, render_table

VERDICTS = [
    Verdict("completeness", "perf", "local-sim", "", "stage results", 1.0),
    Verdict(
        "ttft_p99",
        "perf",
        "local-sim",
        "fixed/threading-pool c2 in32 out8",
        "TTFT P99 (s)",
        0.26,
        0.2,
        0.1,
        "fail",
    ),
    Verdict(
        "qps",
        "perf",
        "local-sim",
        "fixed/threading-pool c2 in32 out8",
        "QPS",
        4.0,
        None,
        0.05,
        "no baseline",
        "no matching baseline",
    ),
]


@pytest.mark.parametrize(
    ("value", "text"), [(None, "-"), (3.0, "3"), (0.123456, "0.1235"), (1234.5678, "1235")]
)
def test_values_are_short(value: float | None, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize(("delta", "text"), [(None, "-"), (0.3, "+30.0%"), (-0.051, "-5.1%")])
def test_deltas_are_signed_percentages(delta: float | None, text: str) -> None:
    assert format_delta(delta) == text


def test_the_table_has_the_issue_columns_aligned() -> None:
    lines = render_table(VERDICTS)

    assert lines[0].split() == [
        "stage",
        "scenario",
        "load",
        "point",
        "metric",
        "baseline",
        "current",
        "delta",
        "[interval]",
        "margin",
        "verdict",
    ]
    assert lines[2].split()[-5:] == ["0.2", "0.26", "+30.0%", "10%", "FAIL"]
    assert lines[2].endswith("FAIL")
    assert lines[3].endswith("no baseline (no matching baseline)")
    starts = {line.index("local-sim") for line in lines[1:]}
    assert len(starts) == 1  # one column, one position


def test_gates_json_has_every_field_and_reads_back(tmp_path: Path) -> None:
    records = [verdict.to_record() for verdict in VERDICTS]
    path = RunWriter(tmp_path).write_gates(GatesFile(run_id="r1", failed=True, verdicts=records))

    data = json.loads(path.read_text())
    assert data["run_id"] == "r1"
    ttft = data["verdicts"][1]
    assert ttft == {
        "gate": "ttft_p99",
        "stage": "perf",
        "scenario": "local-sim",
        "load_point": "fixed/threading-pool c2 in32 out8",
        "subject": "fixed/threading-pool c2 in32 out8",
        "metric": "TTFT P99 (s)",
        "baseline": 0.2,
        "current": 0.26,
        "delta": pytest.approx(0.3),
        "threshold": 0.1,
        "interval": None,
        "samples": None,
        "margin_source": None,
        "low_confidence": False,
        "verdict": "fail",
        "detail": "",
    }
    gates = RunReader(tmp_path).gates()
    assert gates is not None
    assert [Verdict.from_record(record) for record in gates.verdicts] == VERDICTS
    assert RunReader(tmp_path / "absent").gates() is None


def test_passing_completeness_rows_fold_into_one_per_scenario_and_gate() -> None:
    points = [
        Verdict("failure_ratio", "perf", "s", f"c{c}", "failure ratio", ratio)
        for c, ratio in ((1, 0.0), (2, 0.02), (4, 0.01))
    ]
    failing = [
        Verdict("failure_ratio", "perf", "t", "c1", "failure ratio", 0.0),
        Verdict("failure_ratio", "perf", "t", "c2", "failure ratio", 0.5, status="fail"),
    ]

    lines = render_table([*points, *failing])

    assert len(lines) == 1 + 1 + 2  # header, s folded, t kept row by row
    assert lines[1].split() == [
        "perf",
        "s",
        "all",
        "3",
        "load",
        "points",
        "failure",
        "ratio",
        "-",
        "0.02",
        "-",
        "-",
        "PASS",
    ]
    assert len(render_table([*points, *failing], compact=False)) == 6
