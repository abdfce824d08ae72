"""`cibench export`: the workbook read back with openpyxl (sheets, units, numbers, the cap)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from cibench.artifacts import PerfRequestRow, RunWriter
from cibench.artifacts.capacity import CapacityRow
from cibench.capacity.files import append_capacity, append_probe, capacity_path, probes_path
from cibench.cli import main
from tests.support.artifacts import (
    perf_row,
    write_accuracy,
    write_functional,
    write_run_json,
    write_session,
)

SHEETS = ["parameters", "perf summary", "requests", "functional", "accuracy",
          "accuracy samples", "gates"]  # fmt: skip


def make_run(root: Path) -> Path:
    run_dir = write_session(root / "run-1", {"s": ["perf", "functional", "accuracy"]})
    write_run_json(run_dir, "s")
    requests = [
        PerfRequestRow(request_index=i, success=True, ttft_s=0.05 + i / 1000, itl="0.01 0.01")
        for i in range(30)
    ]
    summary = perf_row(concurrency=4, qps=7.5, requests=30)
    RunWriter(run_dir).scenario("s").record_load_point(summary, requests)
    write_functional(run_dir, "s", [("chat_core", "basic", "pass"), ("guided", "json", "fail")])
    write_accuracy(run_dir, "s", score=0.3)
    accuracy_dir = run_dir / "s" / "accuracy"
    accuracy_dir.mkdir(parents=True, exist_ok=True)
    samples = [{"sample": i, "question": i, "gold": "A", "extracted": "A" if i < 3 else "B",
                "score": 1.0 if i < 3 else 0.0, "error": None, "latency_s": 0.2}
               for i in range(10)]  # fmt: skip
    (accuracy_dir / "gpqa_sim_20260102_000000.json").write_text(
        json.dumps({"score": 0.3, "synthetic": True, "samples": samples})
    )
    return run_dir


def header(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[str]:
    return [str(cell.value) for cell in sheet[1]]


def column(sheet: openpyxl.worksheet.worksheet.Worksheet, name: str) -> list[object]:
    index = header(sheet).index(name)
    return [row[index].value for row in sheet.iter_rows(min_row=2)]


def test_export_round_trips_through_openpyxl_with_numbers_and_units(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    out = tmp_path / "run.xlsx"
    assert main(["export", str(run_dir), "-o", str(out), "--max-requests", "20"]) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == SHEETS

    perf = book["perf summary"]
    assert column(perf, "QPS (req/s)") == [7.5]
    assert column(perf, "concurrency (streams)") == [4]
    assert column(perf, "TP99_TTFT(s)") == [pytest.approx(0.2)]

    requests = book["requests"]
    assert requests.max_row == 21  # header + the 20-row cap
    assert "ITL(s)" not in header(requests)
    assert column(requests, "TTFT (s)")[:2] == [pytest.approx(0.05), pytest.approx(0.051)]

    notes = [row[2].value for row in book["parameters"].iter_rows(min_row=2)
             if row[0].value == "note"]  # fmt: skip
    assert any("first 20 of 30" in str(note) for note in notes)

    functional = book["functional"]
    assert column(functional, "status") == ["pass", "fail"]
    assert column(functional, "reason")[1] == "why"

    accuracy = book["accuracy"]
    assert column(accuracy, "score (ratio)") == [0.3]
    assert round(float(str(column(accuracy, "95% low (Wilson)")[0])), 3) == 0.108
    assert len(column(book["accuracy samples"], "question")) == 10


def test_export_names_a_bad_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "nope: not a directory" in capsys.readouterr().err


def test_a_capacity_search_gets_its_answer_and_probes_sheets(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    perf_dir = run_dir / "s" / "perf"
    answer = CapacityRow(
        scenario="s", search_over="concurrency", backend="asyncio", input_length=16,
        output_length=8, slo="tpot_p99_s=0.07", slo_hash="abc", capacity=8, lowest_breaking=9,
        converged=True, stop_reason="converged", probes=2,
    )  # fmt: skip
    append_capacity(capacity_path(perf_dir, "sim"), answer)
    for index, (load, verdict, tpot) in enumerate([(8, "pass", 0.066), (9, "break", 0.074)]):
        append_probe(
            probes_path(perf_dir, "sim"),
            {"Scenario": "s", "Search_Over": "concurrency", "Probe": index + 1, "Load": load,
             "Verdict": verdict, "tpot_p99_s": tpot},
        )  # fmt: skip
    out = tmp_path / "run.xlsx"
    assert main(["export", str(run_dir), "-o", str(out)]) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [*SHEETS, "capacity", "capacity probes"]
    assert column(book["capacity"], "Capacity") == [8]
    assert column(book["capacity"], "Stop_Reason") == ["converged"]
    probes = book["capacity probes"]
    assert column(probes, "Verdict") == ["pass", "break"]
    assert column(probes, "tpot_p99_s") == [pytest.approx(0.066), pytest.approx(0.074)]
