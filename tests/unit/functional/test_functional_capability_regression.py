"""A capability lost between two runs fails the PR run and names the capability.

Two real pytest sessions of the functional stage (subprocesses, as CI runs them) against the
simulator: a daily run of a healthy one records its probe's findings; a PR run whose
simulator ignores `response_format` (`--ignore-json-schema`) then reads that daily run as its
capability baseline. Without a baseline the same cases are skipped (test_functional_suite_proofs).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SCENARIO = "sim-guided"
COMMAND = (
    "{python} -m cibench.sim --host {host} --port {port} --model {model} "
    "--served-model-name {served_model_name} {args}"
)


def configs(root: Path, args: dict[str, Any]) -> Path:
    shutil.copytree(REPO / "configs", root)
    scenario = {
        "id": SCENARIO,
        "mode": "local",
        "model": "sim/qwen-mini",
        "served_model_name": "sim-qwen-mini",
        "command": COMMAND,
        "args": {"seed": 0, **args},
        "startup_timeout_seconds": 30,
    }
    (root / "scenarios" / f"{SCENARIO}.yaml").write_text(yaml.safe_dump(scenario))
    stages = {"functional": True, "functional_subset": ["guided"]}
    matrix = {"scenarios": {SCENARIO: {"pr": stages, "daily": stages}}}
    (root / "matrix.yaml").write_text(yaml.safe_dump(matrix))
    return root


def session(work: Path, configs_dir: Path, run_id: str, *extra: str) -> tuple[int, str]:
    argv = [sys.executable, "-m", "pytest", "tests/functional", "-p", "no:cacheprovider", "-q"]
    argv += ["--scenario", SCENARIO, "--configs", str(configs_dir)]
    argv += ["--artifacts", str(work / "artifacts"), "--run-id", run_id, *extra]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    return done.returncode, done.stdout + done.stderr


def rows(work: Path, run_id: str) -> dict[str, tuple[str, str]]:
    path = work / "artifacts" / run_id / SCENARIO / "functional.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            f"{r['suite']}::{r['case_id']}": (r["status"], r["reason"])
            for r in csv.DictReader(handle)
        }


@pytest.fixture(scope="module")
def pr_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, tuple[str, str]]]:
    work = tmp_path_factory.mktemp("capability-baseline")
    healthy = configs(work / "healthy", {})
    broken = configs(work / "broken", {"ignore_json_schema": True})
    session(work, healthy, "daily-1", "--run-type", "daily")
    assert (work / "artifacts" / "daily-1" / SCENARIO / "capabilities.json").exists()
    code, output = session(work, broken, "pr-1", "--capability-baseline", str(work / "artifacts"))
    return code, output, rows(work, "pr-1")


def test_the_pr_run_fails(pr_run: tuple[int, str, dict[str, tuple[str, str]]]) -> None:
    code, output, _ = pr_run
    assert code == 1, output[-3000:]


def test_the_lost_capability_fails_its_cases_instead_of_skipping_them(
    pr_run: tuple[int, str, dict[str, tuple[str, str]]],
) -> None:
    results = pr_run[2]
    status, why = results["guided::json_schema_flat"]
    assert status == "fail"
    assert why.startswith(
        "capability 'guided_decoding' lost: supported in the capability baseline ("
    )
    assert "daily-1" in why
    assert "unsupported now (probe: a chat request with " in why
    assert "skip" not in {status for status, _ in results.values()}


def test_the_capability_is_named_in_a_failed_row_and_the_gate_table(
    pr_run: tuple[int, str, dict[str, tuple[str, str]]],
) -> None:
    _code, output, results = pr_run
    assert results["capabilities::guided_decoding"][0] == "fail"
    assert results["capabilities::chat"] == ("pass", "")
    gate_lines = [line for line in output.splitlines() if "capabilities" in line and "FAIL" in line]
    assert gate_lines, output[-3000:]
    assert "guided_decoding: capability 'guided_decoding' lost" in gate_lines[0]
