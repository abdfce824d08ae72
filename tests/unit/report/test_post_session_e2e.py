"""Whole sessions against `local-sim`: daily push, A/A, a slowdown, errors, a dead gateway.

Each test runs `python -m pytest --scenario ... --run-type ...` in a subprocess with a copy of the
repo's configs, trimmed to a small perf profile. Timing noise: on a loaded 2-core machine a
scheduling hiccup can reach tens of milliseconds, and P99 over a handful of requests is nearly
the maximum, so the simulator is slowed down until such hiccups are small against the gates'
margins: TTFT ~1 s (10% = 100 ms), E2E ~1.35 s, and two closed-loop rounds of ~1.35 s, so a
70 ms stall costs QPS under 3% (its gate allows 5%). Jitter is off, so P99 of four requests is
as steady as their mean. The runs that need no baseline use a fast simulator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import yaml

from cibench.artifacts import read_summary
from cibench.launch.process import free_port
from tests.support.pushgateway import pushgateway_binary, require_tool, run_pushgateway

REPO = Path(__file__).resolve().parents[3]
STAGE_TESTS = ("tests/functional", "tests/perf", "tests/accuracy")
STEADY_SIM = {
    "prefill_base_ms": 1000,
    "prefill_per_token_ms": 0,
    "itl_base_ms": 50,
    "itl_per_running_seq_ms": 0,
    "jitter": 0,
}
FAST_SIM = {
    "prefill_base_ms": 20,
    "prefill_per_token_ms": 0,
    "itl_base_ms": 5,
    "itl_per_running_seq_ms": 0,
    "jitter": 0,
}
PROFILE = {
    "control_method": "fixed",
    "backend": "threading-pool",
    "concurrency": [2],
    "input_length": [32],
    "output_length": [8],
    "num_requests_per_concurrency": 2,
    "warmup": 0,
    "epochs": 1,
    "seed": 0,
    "timeout_seconds": 60,
    "max_send_lag_ms": 2000,
    "max_receive_lag_ms": 2000,
}  # a busy shared machine must not fail the harness check


@dataclass(frozen=True)
class Session:
    returncode: int
    output: str
    run_dir: Path

    def gates(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "gates.json").read_text())
        return data

    def failing(self) -> set[str]:
        return {v["gate"] for v in self.gates()["verdicts"] if v["verdict"] == "fail"}


def make_configs(
    root: Path, sim: dict[str, float], profile: dict[str, Any], *, functional: bool = False
) -> Path:
    """A copy of the repo's configs: `local-sim` (+ `local-sim-b`) with `sim` args, running
    perf with `profile` (and the quick `models_health` functional suite when asked)."""
    configs = root / "configs"
    shutil.copytree(REPO / "configs", configs)
    scenario_path = configs / "scenarios" / "local-sim.yaml"
    scenario = yaml.safe_load(scenario_path.read_text())
    scenario["args"] = {"seed": 0, **sim}
    scenario_path.write_text(yaml.safe_dump(scenario))
    (configs / "scenarios" / "local-sim-b.yaml").write_text(
        yaml.safe_dump({**scenario, "id": "local-sim-b"})
    )
    (configs / "tests" / "perf" / "profiles" / "it.yaml").write_text(yaml.safe_dump(profile))
    entry: dict[str, Any] = {"perf": True, "perf_profile": "it"}
    if functional:  # its capability probe costs a few generation requests
        entry.update({"functional": True, "functional_subset": ["models_health"]})
    matrix = {
        "scenarios": {name: {"pr": entry, "daily": entry} for name in ("local-sim", "local-sim-b")}
    }
    (configs / "matrix.yaml").write_text(yaml.safe_dump(matrix))
    return configs


def run_session(root: Path, configs: Path, run_id: str, *args: str) -> Session:
    """Run the stage tests from the repo root. Paths go as `--opt=value`: pytest reads a bare
    `--configs /tmp/x` before the plugin registers the option, takes `/tmp/x` for a test path
    and picks its rootdir from there (and would then collect these very tests again)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *STAGE_TESTS, f"--rootdir={REPO}", "-p",
         "no:cacheprovider", "-q", f"--configs={configs}", f"--artifacts={root / 'artifacts'}",
         f"--run-id={run_id}", *args],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False,
    )  # fmt: skip
    return Session(done.returncode, done.stdout + done.stderr, root / "artifacts" / run_id)


@pytest.fixture(scope="module")
def steady_configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_configs(tmp_path_factory.mktemp("steady"), STEADY_SIM, PROFILE)


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    """This module's own Pushgateway: other modules' tests wipe the shared one between tests."""
    binary = require_tool(pushgateway_binary(), "prometheus-pushgateway", "prometheus-pushgateway")
    with run_pushgateway(binary) as url:
        yield url


@pytest.fixture(scope="module")
def daily(gateway: str, steady_configs: Path, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """One daily session over two scenarios, pushed to the module's Pushgateway."""
    return run_session(tmp_path_factory.mktemp("daily"), steady_configs, "daily-1",
                       "--scenario", "local-sim", "--scenario", "local-sim-b",
                       "--run-type", "daily", "--pushgateway", gateway)  # fmt: skip


def test_daily_run_pushes_what_the_summary_csvs_say(
    daily: Session, gateway: str, check_metrics: Callable[[Path], str]
) -> None:
    assert daily.returncode == 0, daily.output
    groups = httpx.get(f"{gateway}/api/v1/metrics", timeout=5).json()["data"]
    by_scenario = {group["labels"]["scenario"]: group for group in groups}

    # A second scenario sits beside the first: one group each, nothing overwritten.
    assert sorted(by_scenario) == ["local-sim", "local-sim-b"]
    for scenario, group in by_scenario.items():
        assert group["labels"]["job"] == "vllm_cibench"
        [summary] = (daily.run_dir / scenario / "perf").glob("summary_*.csv")
        [row] = read_summary(summary)
        [qps] = group["vllm_cibench_requests_per_second"]["metrics"]
        [ttft] = group["vllm_cibench_ttft_seconds"]["metrics"]
        [e2e] = group["vllm_cibench_e2e_seconds"]["metrics"]
        assert qps["labels"]["scenario"] == scenario
        assert qps["labels"]["concurrency"] == "2"
        assert float(qps["value"]) == pytest.approx(row.qps, rel=1e-12)
        assert float(ttft["quantiles"]["0.99"]) == pytest.approx(row.ttft.p99, rel=1e-12)
        assert float(e2e["quantiles"]["0.99"]) == pytest.approx(row.e2e.p99, rel=1e-12)
        assert float(ttft["count"]) == row.success
    check_metrics(daily.run_dir / "metrics.prom")


def test_pr_run_against_the_daily_baseline_passes(
    daily: Session,
    gateway: str,
    steady_configs: Path,
    tmp_path: Path,
    check_metrics: Callable[[Path], str],
) -> None:
    pr = run_session(tmp_path, steady_configs, "pr-aa", "--scenario", "local-sim",
                     "--run-type", "pr", "--baseline", gateway)  # fmt: skip

    assert pr.returncode == 0, pr.output
    verdicts = pr.gates()["verdicts"]
    regression = {v["gate"]: v["verdict"] for v in verdicts if v["stage"] == "perf"}
    assert regression["ttft_p99"] == "pass"
    assert regression["e2e_p99"] == "pass"
    assert regression["qps"] == "pass"
    assert "baseline: pushgateway" in pr.output
    check_metrics(pr.run_dir / "metrics.prom")


def test_pr_run_on_a_30_percent_slower_server_fails_naming_ttft_and_e2e(
    daily: Session, tmp_path: Path, check_metrics: Callable[[Path], str]
) -> None:
    slow = make_configs(tmp_path, {**STEADY_SIM, "slowdown": 1.3}, PROFILE)
    junit = tmp_path / "junit.xml"

    pr = run_session(tmp_path, slow, "pr-slow", "--scenario", "local-sim", "--run-type", "pr",
                     f"--baseline={daily.run_dir}", f"--junitxml={junit}")  # fmt: skip

    assert pr.returncode != 0, pr.output
    assert {"ttft_p99", "e2e_p99"} <= pr.failing(), pr.output
    assert "gates: FAILED" in pr.output
    ttft = [v for v in pr.gates()["verdicts"] if v["gate"] == "ttft_p99"]
    assert ttft[0]["delta"] == pytest.approx(0.3, abs=0.1)
    check_metrics(pr.run_dir / "metrics.prom")
    # the CI test UI shows the regression: one JUnit case per gate verdict, failing ones failed
    [suite] = ElementTree.parse(junit).getroot().findall("testsuite[@name='cibench.gates']")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    [name] = [name for name in cases if str(name).startswith("ttft_p99[")]
    failed = cases[name].find("failure")
    assert failed is not None
    assert "TTFT P99 (s)" in str(failed.get("message"))
    failing = [v for v in pr.gates()["verdicts"] if v["verdict"] == "fail"]
    assert int(str(suite.get("failures"))) == len(failing)


def test_a_slower_runner_is_cleared_by_the_baseline_build_measured_beside_the_candidate(
    daily: Session, tmp_path: Path
) -> None:
    """The runner got 30 % slower since the daily (both builds are): against the recorded
    baseline every latency gate fails, but with the baseline build served here
    (`gates.confirm.baseline_scenario`) the confirmation is an interleaved A/B test that sees
    both builds equally slow, and it alone decides."""
    configs = make_configs(tmp_path, {**STEADY_SIM, "slowdown": 1.3}, PROFILE)
    scenario = yaml.safe_load((configs / "scenarios" / "local-sim.yaml").read_text())
    main_build = {**scenario, "id": "main-build"}
    (configs / "scenarios" / "main-build.yaml").write_text(yaml.safe_dump(main_build))
    settings = configs / "settings.yaml"
    settings.write_text(
        settings.read_text().replace("baseline_scenario: null", "baseline_scenario: main-build")
    )

    pr = run_session(tmp_path, configs, "pr-slow-runner", "--scenario", "local-sim",
                     "--run-type", "pr", f"--baseline={daily.run_dir}")  # fmt: skip

    assert pr.returncode == 0, pr.output
    # 4 requests at c2: one ABBA pair of blocks (a block keeps >= 4 requests per stream if it can)
    assert "re-measured interleaved with the baseline scenario (2 blocks of 2" in pr.output
    verdicts = {v["gate"]: v for v in pr.gates()["verdicts"] if v["scenario"] == "local-sim"}
    for gate in ("ttft_p99", "e2e_p99", "qps"):
        assert verdicts[gate]["verdict"] == "pass", verdicts[gate]
        assert "decided on the interleaved re-measurement" in verdicts[gate]["detail"]
    [point_dir] = (pr.run_dir / "local-sim" / "confirm-baseline").iterdir()  # one per point
    assert point_dir.name.startswith("fixed-threading-pool-c2-")
    assert sorted(p.name for p in point_dir.iterdir()) == ["block-1", "block-2"]


def test_ten_percent_injected_errors_fail_the_failure_ratio_gate(tmp_path: Path) -> None:
    profile = {**PROFILE, "concurrency": [4], "num_requests_per_concurrency": 20}
    configs = make_configs(tmp_path, {**FAST_SIM, "error_ratio": 0.1}, profile)

    pr = run_session(tmp_path, configs, "pr-errors", "--scenario", "local-sim", "--run-type", "pr")

    assert pr.returncode != 0, pr.output
    [ratio] = [v for v in pr.gates()["verdicts"] if v["gate"] == "failure_ratio"]
    assert ratio["verdict"] == "fail"
    assert ratio["current"] > 0.05


def test_daily_run_with_the_pushgateway_down_finishes_and_says_so(
    tmp_path: Path, check_metrics: Callable[[Path], str]
) -> None:
    configs = make_configs(tmp_path, FAST_SIM, PROFILE, functional=True)
    dead = f"http://127.0.0.1:{free_port()}"

    daily = run_session(tmp_path, configs, "daily-down", "--scenario", "local-sim",
                        "--run-type", "daily", "--pushgateway", dead)  # fmt: skip

    assert daily.returncode != 0, daily.output
    assert f"push: FAILED: Pushgateway {dead}: PUT job=vllm_cibench" in daily.output
    assert daily.gates()["push_error"]
    check_metrics(daily.run_dir / "metrics.prom")
    assert list((daily.run_dir / "local-sim" / "perf").glob("summary_*.csv"))
    assert (daily.run_dir / "local-sim" / "functional.csv").exists()
