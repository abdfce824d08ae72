"""Resource monitoring during a real load point against a local simulator process."""

from __future__ import annotations

from pathlib import Path

from cibench.artifacts import ScenarioWriter, read_summary
from cibench.artifacts.codec import read_cells as read_rows
from cibench.config.perf import PerfProfile
from cibench.config.scenario import Scenario
from cibench.launch import LocalLauncher
from cibench.monitor.timeline import TIMELINE_COLUMNS
from cibench.perf.runner import RunTarget, run_point


def test_a_load_point_records_client_server_and_gauge_figures(tmp_path: Path) -> None:
    scenario = Scenario(
        id="sim",
        mode="local",
        model="sim-model",
        command="{python} -m cibench.sim --host {host} --port {port} --itl-base-ms 20",
    )
    chosen = PerfProfile.model_validate(
        {
            "input_length": [16],
            "output_length": [40],
            "concurrency": [4],
            "num_requests": 8,
            "warmup": 0,
            "backend": "asyncio",
            "monitor_interval_seconds": 0.2,
        }
    )
    with LocalLauncher(scenario, tmp_path) as endpoint:
        target = RunTarget(endpoint.base_url, endpoint.model, "sim", "sim", None, endpoint.process)
        outcome = run_point(
            target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path / "run")
        )
    (row,) = read_summary(outcome.summary_csv)
    figures = row.resources
    assert row.monitor_samples is not None
    assert row.monitor_samples >= 5  # ~1.6 s of load at 0.2 s
    assert 10 < (figures["MAX_CLIENT_RSS(MB)"] or 0) < 4096
    assert 10 < (figures["MAX_SERVER_RSS(MB)"] or 0) < 4096
    assert (figures["MAX_SERVER_CPU(%)"] or 0) > 0
    assert figures["MAX_SERVER_RUNNING"] == 4  # the sim's vllm:num_requests_running
    assert 0 <= (figures["AVG_MONITOR_CPU(%)"] or 0) < 50
    assert "GPU not sampled" in row.monitor_notes
    assert figures["AVG_GPU_UTIL(%)"] is None  # no GPU here: no data, never 0
    timeline = outcome.requests_csv.with_name("resources" + outcome.requests_csv.name[8:])
    rows = read_rows(timeline)
    assert list(rows[0]) == list(TIMELINE_COLUMNS)
    assert len(rows) == row.monitor_samples


def test_monitoring_can_be_turned_off(tmp_path: Path) -> None:
    chosen = PerfProfile.model_validate(
        {"input_length": [16], "output_length": [4], "warmup": 0, "monitor_interval_seconds": 0}
    )
    target = RunTarget("http://127.0.0.1:9", "m", "sim", "sim")
    outcome = run_point(target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    (row,) = read_summary(outcome.summary_csv)
    assert (row.monitor_samples, row.resources) == (None, {})
    assert "Monitor_Samples" not in read_rows(outcome.summary_csv)[0]
