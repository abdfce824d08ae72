"""The PR flow against a real inference engine: llama.cpp's server with SmolLM2-135M, on CPU.

One pytest session in a subprocess, exactly as `make bench SCENARIO=local-llamacpp` runs it
(default `configs/`), then its artifacts are read: functional has no failure and every skip
says why, perf measured real latencies without a failed request, accuracy scored, and
`metrics.prom` is valid Prometheus text. About 35 s on two cores.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from cibench.artifacts import read_summary
from cibench.engines.llamacpp import INSTALL_HINT, SMOLLM2_FILE, bundled_model_path
from cibench.launch.health import wait_healthy
from cibench.launch.process import free_port, terminate
from tests.support.configs import configs_for_a_busy_host
from tests.support.pushgateway import promtool_check

REPO = Path(__file__).resolve().parents[2]
SCENARIO = "local-llamacpp"
RUN_ID = "e2e"
TIMEOUT_S = 170


def _engine_missing() -> str | None:
    """What is not installed for the llama.cpp scenario, or None."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp"
    try:
        bundled_model_path()
    except SystemExit:
        return SMOLLM2_FILE
    return None


def _need_engine() -> None:
    missing = _engine_missing()
    if missing is not None:
        message = f"{missing} is not installed for scenario {SCENARIO}: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


def _few_requests(configs: Path) -> None:
    """The shipped profile's 100 requests a point (for its gates) take two minutes on this
    engine; the flow, not the gates, is under test here: 4 requests a stream."""
    profile = configs / "tests" / "perf" / "profiles" / "llamacpp.yaml"
    settings = yaml.safe_load(profile.read_text(encoding="utf-8"))
    del settings["num_requests"]
    settings["num_requests_per_concurrency"] = 4
    profile.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the PR flow once; the run's artifacts directory (the session must exit 0)."""
    _need_engine()
    artifacts = tmp_path_factory.mktemp("llamacpp-e2e")
    configs = configs_for_a_busy_host(tmp_path_factory.mktemp("llamacpp-configs") / "configs")
    _few_requests(configs)
    argv = [sys.executable, "-m", "pytest", "--scenario", SCENARIO, "--run-type", "pr"]
    argv += [f"--configs={configs}"]
    # `--artifacts=DIR` in one word: pytest would take an existing DIR for a test path
    argv += ["-p", "no:cacheprovider", f"--artifacts={artifacts}", "--run-id", RUN_ID, "-rs"]
    # the CI job's CIBENCH_* settings (baseline, Pushgateway, configs) and pytest options
    # are for the job's own run, not for this one
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIBENCH_", "PYTEST_"))}
    done = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit code {done.returncode}:\n{output[-6000:]}"
    return artifacts / RUN_ID


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_functional_has_no_failure_and_every_skip_says_why(run_dir: Path) -> None:
    rows = _rows(run_dir / SCENARIO / "functional.csv")
    failed = [f"{r['suite']}::{r['case_id']}: {r['reason']}" for r in rows if r["status"] == "fail"]
    assert failed == []
    skipped = [r for r in rows if r["status"] == "skip"]
    silent = [f"{r['suite']}::{r['case_id']}" for r in skipped if not r["reason"].strip()]
    assert silent == []
    assert sum(r["status"] == "pass" for r in rows) > len(rows) / 2


def test_perf_measured_every_load_point_without_failures(run_dir: Path) -> None:
    summaries = sorted((run_dir / SCENARIO / "perf").glob("summary_*.csv"))
    rows = [row for path in summaries for row in read_summary(path)]
    assert rows, f"no summary_*.csv rows under {run_dir / SCENARIO / 'perf'}"
    for row in rows:
        point = f"concurrency {row.concurrency}"
        assert row.failures == 0, point
        for name, value in (("ttft p50", row.ttft.p50), ("tpot avg", row.tpot.avg)):
            assert value is not None, (point, name)  # -1 on disk: no data
            assert value > 0, (point, name, value)


def test_accuracy_has_a_score(run_dir: Path) -> None:
    rows = _rows(run_dir / SCENARIO / "accuracy.csv")
    assert len(rows) == 1
    assert 0.0 <= float(rows[0]["score"]) <= 1.0


def test_metrics_file_is_valid_prometheus_text(run_dir: Path) -> None:
    path = run_dir / "metrics.prom"
    assert path.is_file()
    if shutil.which("promtool") is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("promtool not installed (apt-get install prometheus); CI installs it.")
    promtool_check(path)


def test_a_multi_turn_workload_runs_against_the_real_engine(tmp_path: Path) -> None:
    """The `multi-turn` example profile, made smaller: 2 conversations of 3 turns (~20 s)."""
    _need_engine()
    configs = configs_for_a_busy_host(tmp_path / "configs")  # the engine shares the 2 cores
    argv = [sys.executable, "-m", "cibench.cli", "perf", "--configs", str(configs)]
    argv += ["--artifacts", str(tmp_path), "--scenario", SCENARIO, "--profile", "multi-turn"]
    argv += ["--concurrency", "2", "--num-requests", "2", "--output-len", "8"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIBENCH_", "PYTEST_"))}
    done = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    (summary,) = read_summary(next(tmp_path.glob(f"*/{SCENARIO}/perf/summary_*.csv")))
    assert (summary.num_requests, summary.failures) == (6, 0)  # 2 conversations x 3 turns
    assert summary.later_turn_ttft_p50_s is not None
    assert summary.later_turn_prompt_tokens is not None
    # later turns carry the history (the 64 first-turn tokens include the chat template)
    assert summary.later_turn_prompt_tokens > 64 + 8


def test_the_engine_serves_through_the_slowdown_proxy_and_stops_on_sigterm() -> None:
    """`--slowdown 1.0`: the proxy answers for the engine and SIGTERM stops both (a few s)."""
    _need_engine()
    port = free_port()
    argv = [sys.executable, "-m", "cibench.engines.llamacpp", "--port", str(port)]
    engine = subprocess.Popen([*argv, "--slowdown", "1.0"], cwd=REPO)
    base_url = f"http://127.0.0.1:{port}"
    try:

        def still_running() -> str | None:
            return None if engine.poll() is None else f"exited with {engine.returncode}"

        health = wait_healthy(base_url, 60, still_running=still_running, progress=None)
        assert health.healthy, health
        models = httpx.get(f"{base_url}/v1/models", timeout=10).json()
        assert [m["id"] for m in models["data"]] == ["smollm2-135m-instruct"]
        engine.terminate()
        assert engine.wait(timeout=20) == 0
    finally:
        terminate(engine)
