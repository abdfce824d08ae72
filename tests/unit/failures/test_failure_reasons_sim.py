"""Failure reasons end to end: the simulator's fault options, and a local server that dies
mid-run (its exit code and its last log line land on the load point)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter, read_requests, read_summary
from cibench.artifacts.codec import read_cells
from cibench.config.perf import PerfProfile
from cibench.config.scenario import Scenario
from cibench.failures.reasons import parse_reasons
from cibench.launch import LocalLauncher
from cibench.launch.process import free_port
from cibench.perf.runner import RunTarget, run_point
from cibench.sim.testing import run_simulator


def profile(**fields: object) -> PerfProfile:
    return PerfProfile.model_validate(
        {
            "input_length": [16],
            "output_length": [8],
            "warmup": 0,
            "timeout_seconds": 1,
            "max_failure_ratio": 0.0,
            "backend": "asyncio",
            "monitor_interval_seconds": 0,
            **fields,
        }
    )


@pytest.fixture(scope="module")
def faulty_sim() -> Iterator[str]:
    with run_simulator(
        "--seed", "3", "--itl-base-ms", "1", "--max-model-len", "100",
        "--error-ratio", "0.3", "--sse-error-ratio", "0.3",
        "--stall-ratio", "0.3", "--stall-seconds", "3",
    ) as base_url:  # fmt: skip
        yield base_url


def test_simulator_faults_get_their_reason_classes(faulty_sim: str, tmp_path: Path) -> None:
    target = RunTarget(faulty_sim, "sim-model", "sim", "sim-test")
    chosen = profile(concurrency=[8], num_requests=40)
    outcome = run_point(target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    assert set(outcome.reasons) == {"http_500:InternalServerError", "stream_error", "timeout_stall"}
    assert sum(outcome.reasons.values()) == outcome.summary.failures
    (row,) = read_summary(outcome.summary_csv)
    assert parse_reasons(row.failure_reasons or "") == outcome.reasons
    # new columns come after every acs-bench column (monitoring is off in this profile)
    assert list(read_cells(outcome.summary_csv)[0])[-2:] == [
        "Failure_Reasons",
        "Server_Log_Matches",
    ]
    per_request = read_requests(outcome.requests_csv)
    assert {r.failure_reason for r in per_request} == {"", *outcome.reasons}
    (problem,) = outcome.failures(0.0)  # the server's failures; a busy host may add a harness note
    assert "timeout_stall x" in problem
    assert "http_500:InternalServerError x" in problem


def test_a_prompt_over_the_context_length_is_named(faulty_sim: str, tmp_path: Path) -> None:
    target = RunTarget(faulty_sim, "sim-model", "sim", "sim-test")
    long = profile(input_length=[128], concurrency=[2], num_requests=4)
    outcome = run_point(target, long, long.load_points()[0], ScenarioWriter(tmp_path))
    assert outcome.reasons == {"http_400:context_length": 4}


def test_nothing_listening_is_connection_refused(tmp_path: Path) -> None:
    target = RunTarget(f"http://127.0.0.1:{free_port('127.0.0.1')}", "m", "sim", "sim-test")
    chosen = profile(concurrency=[2], num_requests=4)
    outcome = run_point(target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    assert outcome.reasons == {"connection_refused": 4}


def test_a_local_server_killed_mid_run_is_a_crash_with_its_log_line(tmp_path: Path) -> None:
    # the server answers 6 requests, exits; its wrapper then logs a CUDA error and exits 3
    script = (
        "{python} -m cibench.sim --host {host} --port {port} --itl-base-ms 5 --crash-after 6; "
        "echo 'RuntimeError: CUDA error: an illegal memory access was encountered'; exit 3"
    )
    scenario = Scenario(id="dying", mode="local", model="sim-model", command=f"sh -c {script!r}")
    chosen = profile(concurrency=[2], num_requests=16, timeout_seconds=5)
    with LocalLauncher(scenario, tmp_path) as endpoint:
        assert endpoint.process is not None
        target = RunTarget(
            endpoint.base_url, endpoint.model, "dying", "dying", None, endpoint.process
        )
        outcome = run_point(
            target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path / "run")
        )
    assert 6 <= outcome.summary.successes < 16  # in-flight streams may end as it exits
    assert set(outcome.reasons) == {"server_crash"}
    matches = {m.name: m.first_line for m in outcome.log_matches}
    assert (
        matches["cuda_error"]
        == "RuntimeError: CUDA error: an illegal memory access was encountered"
    )
    assert matches["server_exit"] == "server exited with code 3"
    (row,) = read_summary(outcome.summary_csv)
    assert "cuda_error=1 (RuntimeError: CUDA error" in row.server_log_matches
    assert "the server exited with code 3 during this load point" in outcome.notes
    assert any(p.startswith("server log: cuda_error x1") for p in outcome.problems(0.05))
