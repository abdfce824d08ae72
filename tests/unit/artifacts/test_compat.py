"""Run directories written by cibench 0.1 (before `cibench.artifacts`) still read, and the
same run exports the same metrics and verdicts.

`fixtures/run-v0.1/` was written by the 0.1 writers: its perf CSVs by `cibench perf --scenario
local-sim --profile smoke`, the rest by the 0.1 test helpers, and its `metrics.prom` and
`gates.json` by the 0.1 post-session stage.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cibench.artifacts import RunReader, ScenarioWriter, read_run, read_summary
from cibench.config.settings import Settings
from cibench.report.pipeline import PostSessionOptions, run_post_session

FIXTURE = Path(__file__).parent / "fixtures" / "run-v0.1"


def test_a_0_1_run_reads_with_typed_values() -> None:
    run = read_run(FIXTURE)
    [scenario] = run.scenarios
    assert scenario.problems == []
    assert scenario.vllm_version == "0.11.0"
    assert [(c.case_id, c.status) for c in scenario.functional] == [
        ("basic", "pass"),
        ("stop", "fail"),
        ("auto", "skip"),
    ]
    assert [point.concurrency for point in scenario.perf] == [1, 4]
    point = scenario.perf[0]
    assert point.ttft.p99 == pytest.approx(0.02431527694)
    assert point.request_rate is None  # -1: a fixed load point has no rate
    assert point.top_k == -1  # -1: top-k disabled, a real value that must survive
    assert point.temperature == 0.0
    assert point.server_queue_time_ms == 0.0
    [accuracy] = scenario.accuracy
    assert (accuracy.score, accuracy.passed) == (0.6, True)


def test_rewriting_a_0_1_summary_keeps_every_value(tmp_path: Path) -> None:
    [original] = sorted((FIXTURE / "local-sim" / "perf").glob("summary_*.csv"))
    rows = read_summary(original)
    writer = ScenarioWriter(tmp_path)
    files = [writer.record_load_point(row, []) for row in rows]
    assert read_summary(files[0].summary_csv) == rows
    # 0.1's columns keep their order; newer columns only ever come after them
    header = files[0].summary_csv.read_text().splitlines()[0].split(",")
    old_header = original.read_text().splitlines()[0].split(",")
    assert header[: len(old_header)] == old_header


def test_the_post_session_stage_gives_the_0_1_metrics_and_verdicts(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-v0.1"
    shutil.copytree(FIXTURE, run_dir)
    for name in ("metrics.prom", "gates.json"):
        (run_dir / name).unlink()

    result = run_post_session(
        run_dir, Settings(), PostSessionOptions("pr", None, None, True), environ={}, now_s=1.7e9
    )

    assert result.exit_code == 6  # the fixture has a failed functional case
    # every 0.1 series keeps its name, labels and value; families added since then may join
    exported = set((run_dir / "metrics.prom").read_text().splitlines())
    missing = [
        line for line in (FIXTURE / "metrics.prom").read_text().splitlines() if line not in exported
    ]
    assert missing == []
    new = json.loads((run_dir / "gates.json").read_text())
    old = json.loads((FIXTURE / "gates.json").read_text())
    # keys added since 0.1 (issues #16, #20); absent in an old file, they read as defaults
    added = {
        "baseline_error": None,
        "interrupted": False,
        "functional_skipped": {"local-sim": {"why": 1}},
    }
    kept = {key: value for key, value in new.items() if key not in added and key != "verdicts"}
    assert kept == {key: value for key, value in old.items() if key != "verdicts"}
    assert {key: new[key] for key in added} == added
    # 0.1's verdict fields are unchanged; later versions add the regression gates' interval
    interval_fields = {"interval", "samples", "margin_source", "low_confidence"}
    for verdict in new["verdicts"]:
        assert interval_fields <= set(verdict)
        for key in interval_fields:
            del verdict[key]
    # every 0.1 verdict is given again; gates added since (functional_skips) come on top
    assert [verdict for verdict in old["verdicts"] if verdict not in new["verdicts"]] == []
    assert {verdict["gate"] for verdict in new["verdicts"] if verdict not in old["verdicts"]} == {
        "functional_skips"
    }
    gates = RunReader(run_dir).gates()
    assert gates is not None
    assert gates.exit_code == 6
