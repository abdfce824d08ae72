"""`cibench perf` writes a complete run directory that `cibench gate` and `cibench push` accept.

The same chain a team runs by hand: measure with `cibench perf` (local-sim, smoke profile), gate
the run against itself as the baseline, push it to a real Pushgateway on loopback.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cibench.artifacts import RunReader, read_run
from cibench.cli import main
from tests.support.configs import configs_for_a_busy_host

CONFIGS = Path(__file__).parents[3] / "configs"


@pytest.fixture(scope="module")
def perf_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cibench perf --scenario local-sim --profile smoke --run-type daily`; its run directory."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    configs = configs_for_a_busy_host(tmp_path_factory.mktemp("busy") / "configs")
    argv = ["perf", "--configs", str(configs), "--artifacts", str(artifacts)]
    argv += ["--scenario", "local-sim", "--profile", "smoke", "--run-type", "daily"]
    assert main(argv) == 0
    [run_dir] = artifacts.iterdir()
    return run_dir


def test_perf_leaves_session_and_run_json(perf_run: Path) -> None:
    session = RunReader(perf_run).session()
    assert session.run_type == "daily"
    assert list(session.scenarios) == ["local-sim"]
    assert session.scenarios["local-sim"].stages == ["perf"]
    run = json.loads((perf_run / "local-sim" / "run.json").read_text())
    assert run["end"] is not None  # the server pool stopped the simulator
    [scenario] = read_run(perf_run).scenarios
    assert scenario.launch_error is None
    assert [point.concurrency for point in scenario.perf] == [1, 4]


def test_gate_against_itself_passes(perf_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gate", str(perf_run), "--configs", str(CONFIGS), "--baseline", str(perf_run)]
    assert main(argv) == 0, capsys.readouterr().out
    gates = RunReader(perf_run).gates()
    assert gates is not None
    regression = [v for v in gates.verdicts if v.gate in ("ttft_p99", "e2e_p99", "qps")]
    assert len(regression) == 6  # three gates at each of the two load points
    # against itself the ratio is exactly 1; a small sample's interval may straddle a margin
    assert {v.verdict for v in regression} <= {"pass", "inconclusive"}
    assert all(v.delta == 0 for v in regression)
    assert {v.delta for v in regression} == {0.0}


def test_push_sends_the_run(
    perf_run: Path, pushgateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the same env var as under pytest names the gateway
    monkeypatch.setenv("CIBENCH_PUSHGATEWAY_URL", pushgateway)
    assert main(["push", str(perf_run), "--configs", str(CONFIGS)]) == 0
    groups = httpx.get(f"{pushgateway}/api/v1/metrics", timeout=5).json()["data"]
    [group] = [g for g in groups if g["labels"].get("scenario") == "local-sim"]
    assert "vllm_cibench_ttft_seconds" in group
