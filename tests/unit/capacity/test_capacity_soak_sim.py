"""A short soak against a simulator that degrades with every request and leaks memory: the
drift is detected, with numbers, and every window is on disk as soon as it ends."""

from __future__ import annotations

from pathlib import Path

from cibench.artifacts import ScenarioWriter, read_summary
from cibench.artifacts.codec import read_cells as read_rows
from cibench.capacity.soak import run_soak
from cibench.config.perf import PerfProfile
from cibench.config.scenario import Scenario
from cibench.launch import LocalLauncher
from cibench.perf.runner import RunTarget

SIM = "{python} -m cibench.sim --host {host} --port {port} --itl-base-ms 5 --jitter 0 "


def soak_profile() -> PerfProfile:
    return PerfProfile.model_validate(
        {
            "control_method": "soak",
            "backend": "asyncio",
            "input_length": [16],
            "output_length": [16],
            "request_rate": [20],
            "warmup": 0,
            "timeout_seconds": 30,
            "max_send_lag_ms": 500,
            "max_receive_lag_ms": 500,  # drift is under test, not the host's timing
            "monitor_interval_seconds": 0.25,
            "soak": {"duration_seconds": 6, "window_seconds": 1.5},
        }
    )


def soak(tmp_path: Path, flags: str) -> tuple[object, Path]:
    scenario = Scenario(id="soak", mode="local", model="sim-model", command=SIM + flags)
    with LocalLauncher(scenario, tmp_path) as endpoint:
        target = RunTarget(
            endpoint.base_url, endpoint.model, "soak", "soak", None, endpoint.process
        )
        result = run_soak(target, soak_profile(), 16, 16, ScenarioWriter(tmp_path / "run"))
    return result, tmp_path / "run" / "perf"


def test_a_degrading_leaking_server_is_caught_drifting(tmp_path: Path) -> None:
    result, perf = soak(tmp_path, "--degrade-per-request 0.01 --leak-kb-per-request 1024")
    assert len(result.windows) >= 3  # type: ignore[attr-defined]
    drifted = {d.metric for d in result.drifted}  # type: ignore[attr-defined]
    assert {"tpot_p50_s", "e2e_p50_s", "server_memory_bytes"} <= drifted
    assert result.verdict().startswith("drift over")  # type: ignore[attr-defined]
    rows = read_rows(result.soak_csv)  # type: ignore[attr-defined]
    tpot = next(r for r in rows if r["Metric"] == "tpot_p50_s")
    assert float(tpot["Change"]) > 0.5
    assert (tpot["Drift"], tpot["Verdict"]) == ("1", "drift")
    # every window is an ordinary summary row, written as it ended
    (summary,) = perf.glob("summary_soak_soak_asyncio_*.csv")
    assert len(read_summary(summary)) == len(result.windows)  # type: ignore[attr-defined]


def test_a_steady_server_keeps_its_token_pace(tmp_path: Path) -> None:
    result, _ = soak(tmp_path, "")
    drifts = {d.metric: d for d in result.drifts}  # type: ignore[attr-defined]
    assert not drifts["tpot_p50_s"].drifted
    assert abs(drifts["tpot_p50_s"].change) < 0.2
