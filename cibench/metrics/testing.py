"""Test helpers: write run artifact directories, run a real Pushgateway, check with `promtool`.

Artifacts are written with the same writers the stages use (`cibench.perf.csvio`,
`cibench.accuracy.report`), so hand-made runs have the exact on-disk format of real ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from cibench.accuracy.report import append_csv_row
from cibench.functional.results import CaseResult, Status, append_result, results_path
from cibench.launch.process import free_port, parent_death_signal, terminate
from cibench.perf.csvio import Cell, append_summary_row

PUSHGATEWAY_BINARIES = ("prometheus-pushgateway", "pushgateway")


def write_session(
    run_dir: Path,
    scenarios: Mapping[str, Sequence[str]],
    *,
    run_id: str | None = None,
    run_type: str = "pr",
    commit: str = "0123abc",
    branch: str = "main",
    model: str = "sim-model",
    end: str = "2026-01-02T00:10:00+00:00",
) -> Path:
    """Write `session.json` for `scenarios` (id -> expected stages); returns the run directory."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "run_id": run_id or run_dir.name,
        "run_type": run_type,
        "commit": commit,
        "branch": branch,
        "start": "2026-01-02T00:00:00+00:00",
        "end": end,
        "cibench_version": "0.1.0",
        "scenarios": {
            scenario: {
                "stages": list(stages),
                "model": model,
                "served_model_name": model,
                "quant": "none",
                "hardware": "cpu",
                "mode": "local",
            }
            for scenario, stages in scenarios.items()
        },
    }
    (run_dir / "session.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return run_dir


def write_run_json(
    run_dir: Path,
    scenario: str,
    *,
    launch_error: str | None = None,
    server_version: str | None = "0.11.0",
) -> None:
    """Write `<scenario>/run.json` as the launcher does."""
    directory = run_dir / scenario
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "scenario": scenario,
        "mode": "local",
        "model": "sim-model",
        "served_model_name": "sim-model",
        "quant": "none",
        "hardware": "cpu",
        "launch_error": launch_error,
        "server_version": {"version": server_version} if server_version else None,
    }
    (directory / "run.json").write_text(json.dumps(data), encoding="utf-8")


def perf_row(
    *,
    concurrency: int = 2,
    input_len: int = 32,
    output_len: int = 8,
    ttft_p99: float | None = 0.2,
    e2e_p99: float | None = 0.5,
    qps: float | None = 4.0,
    fail_rate: float = 0.0,
    requests: int = 8,
    token_mismatch: int = 0,
    backend: str = "threading-pool",
    control_method: str = "fixed",
) -> dict[str, Cell]:
    """A summary-CSV row with plausible values derived from a few knobs (None = no data)."""
    failures = round(requests * fail_rate)
    row: dict[str, Cell] = {
        "Input_Length": input_len,
        "Output_Length": output_len,
        "Concurrency": concurrency,
        "Num_Requests": requests,
        "Success": requests - failures,
        "Failures": failures,
        "Fail_Rate": fail_rate,
        "Token_Mismatch": token_mismatch,
        "QPS": qps,
        "Output_Token_Throughput(tokens/s)": None if qps is None else qps * output_len,
        "Total_Token_Throughput(tokens/s)": None if qps is None else qps * (input_len + output_len),
        "Backend": backend,
        "Control_Method": control_method,
        "Growth_Rate": None,
    }
    for family, p99 in (("TTFT", ttft_p99), ("E2E", e2e_p99)):
        for stat, factor in (("TP50", 0.8), ("TP75", 0.85), ("TP90", 0.9), ("TP95", 0.95)):
            row[f"{stat}_{family}(s)"] = None if p99 is None else p99 * factor
        row[f"TP99_{family}(s)"] = p99
        row[f"MAX_{family}(s)"] = None if p99 is None else p99 * 1.01
        row[f"MIN_{family}(s)"] = None if p99 is None else p99 * 0.7
        row[f"AVG_{family}(s)"] = None if p99 is None else p99 * 0.82
    row["TP99_TPOT(s)"] = 0.03
    row["AVG_TPOT(s)"] = 0.025
    row["TP99_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"] = 0.031
    row["AVG_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"] = 0.026
    row["MIN_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"] = 0.02
    row["MAX_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"] = 0.032
    return row


def write_perf(run_dir: Path, scenario: str, rows: Sequence[Mapping[str, Cell]]) -> Path:
    """Write the rows to `<scenario>/perf/summary_*.csv` with the perf stage's writer."""
    path = run_dir / scenario / "perf" / "summary_sim_fixed_threading-pool_20260102.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:
        append_summary_row(path, row)
    return path


def write_functional(
    run_dir: Path, scenario: str, rows: Sequence[tuple[str, str, str]], worker_id: str = "master"
) -> Path:
    """Append `(suite, case_id, status)` rows (`pass`/`fail`/`skip`) with the stage's writer."""
    path = results_path(run_dir / scenario, worker_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suite, case_id, status in rows:
        reason = "" if status == "pass" else "why"
        append_result(path, CaseResult(suite, case_id, cast(Status, status), reason, 0.01))
    return path


def write_accuracy(
    run_dir: Path, scenario: str, *, score: float | None = 0.6, threshold: float | None = 0.3
) -> Path:
    """Append one GPQA row to `<scenario>/accuracy.csv` with the accuracy stage's writer."""
    path = run_dir / scenario / "accuracy.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    passed = None if score is None or threshold is None else score >= threshold
    row: dict[str, Any] = {
        "dataset": "gpqa",
        "variant": "diamond",
        "score": score,
        "std": 0.1,
        "n": 10,
        "threshold": threshold,
        "pass": passed,
        "model": "sim-model",
    }
    append_csv_row(path, row)
    return path


def write_complete_run(
    run_dir: Path,
    scenario: str = "local-sim",
    *,
    run_type: str = "pr",
    ttft_p99: float = 0.2,
    e2e_p99: float = 0.5,
    qps: float = 4.0,
) -> Path:
    """A run where every stage of one scenario left healthy results."""
    write_session(run_dir, {scenario: ("functional", "perf", "accuracy")}, run_type=run_type)
    write_run_json(run_dir, scenario)
    write_functional(
        run_dir, scenario, [("chat_core", "basic", "pass"), ("chat_core", "stop", "pass")]
    )
    write_perf(run_dir, scenario, [perf_row(ttft_p99=ttft_p99, e2e_p99=e2e_p99, qps=qps)])
    write_accuracy(run_dir, scenario)
    return run_dir


def pushgateway_binary() -> str | None:
    """The Pushgateway executable on PATH (Debian names it `prometheus-pushgateway`)."""
    for name in PUSHGATEWAY_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def run_pushgateway(binary: str, startup_timeout: float = 15.0) -> Iterator[str]:
    """Run a Pushgateway on a free loopback port with a scratch persistence file; yield its URL."""
    with tempfile.TemporaryDirectory(prefix="cibench-pgw-") as scratch:
        port = free_port()
        log_path = Path(scratch) / "pushgateway.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--persistence.file={scratch}/pushgateway.data",
                    "--web.enable-admin-api",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # libc is loaded before the fork; the child only makes one syscall
                preexec_fn=parent_death_signal(),  # noqa: PLW1509
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{binary} exited with {proc.returncode}: {log_path.read_text()[-2000:]}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} not ready after {startup_timeout} s at {url}")
                time.sleep(0.05)
            yield url
        finally:
            terminate(proc)


def wipe_pushgateway(url: str) -> None:
    """Delete every group (needs `--web.enable-admin-api`, which `run_pushgateway` passes)."""
    httpx.put(f"{url}/api/v1/admin/wipe", timeout=5.0).raise_for_status()


def promtool_check(path: Path) -> str:
    """Run `promtool check metrics` on a file; raise AssertionError with its output on failure."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise FileNotFoundError("promtool is not on PATH (apt-get install prometheus)")
    with path.open("rb") as handle:
        done = subprocess.run(
            [promtool, "check", "metrics"], stdin=handle, capture_output=True, check=False
        )
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    if done.returncode != 0 or output.strip():
        raise AssertionError(f"promtool check metrics {path} (rc {done.returncode}):\n{output}")
    return output


def require_tool(found: str | None, what: str, package: str) -> str:
    """The tool's path; skip the test when it is absent, but fail when running in CI."""
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not on PATH but CI=true: install it (apt-get install {package}).")
    pytest.skip(f"{what} not installed (apt-get install {package}); CI installs it.")


@pytest.fixture(scope="session")
def pushgateway_server() -> Iterator[str]:
    """One real Pushgateway on 127.0.0.1 for the test session; yields its URL."""
    binary = require_tool(pushgateway_binary(), "prometheus-pushgateway", "prometheus-pushgateway")
    with run_pushgateway(binary) as url:
        yield url


@pytest.fixture
def pushgateway(pushgateway_server: str) -> str:
    """The session's Pushgateway, emptied before the test."""
    wipe_pushgateway(pushgateway_server)
    return pushgateway_server


@pytest.fixture
def check_metrics() -> Callable[[Path], str]:
    """`check_metrics(path)`: `promtool check metrics` must accept the file."""
    require_tool(shutil.which("promtool"), "promtool", "prometheus")
    return promtool_check


TEST_FIXTURES = ("pushgateway_server", "pushgateway", "check_metrics")
"""Fixtures a conftest re-exports with `from cibench.metrics.testing import ...`."""
