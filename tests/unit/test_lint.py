"""`cibench lint`: a dry run that validates configs and prints the plan, for people and machines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def lint(configs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cibench.cli", "lint", "--configs", str(configs), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_shipped_configs_pass_and_print_the_plan() -> None:
    result = lint(REPO_CONFIGS)
    assert result.returncode == 0, result.stdout
    assert "plan (scenario × run_type × stage = tests):" in result.stdout
    assert "local-sim            pr" in result.stdout
    assert result.stdout.rstrip().endswith("OK")


def test_json_output_counts_tests_per_stage() -> None:
    result = lint(REPO_CONFIGS, "--json")
    report = json.loads(result.stdout)
    assert report["ok"] is True
    local_pr = next(p for p in report["plan"] if p == report["plan"][0])
    assert local_pr["scenario"] == "local-sim"
    assert local_pr["run_type"] == "pr"
    assert local_pr["stages"]["functional"]["tests"] >= 60
    assert local_pr["stages"]["perf"]["tests"] == len(local_pr["perf_load_points"]) > 0
    assert local_pr["stages"]["accuracy"]["tests"] == 1


def test_every_problem_gets_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, configs)
    matrix = (configs / "matrix.yaml").read_text()
    (configs / "matrix.yaml").write_text(matrix.replace("vllm-local:", "vllm-typo:", 1))
    (configs / "scenarios" / "local-sim.yaml").write_text(
        (configs / "scenarios" / "local-sim.yaml").read_text().replace("quant: none", "quant: fp4")
    )
    (configs / "providers.yaml").write_text("providers: [\n")
    result = lint(configs)
    assert result.returncode == 1
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "3 problem(s):" in lines
    assert any(line.startswith(f"{configs}/matrix.yaml: scenarios.vllm-typo: unknown scenario")
               for line in lines)  # fmt: skip
    assert any(line.startswith(f"{configs}/scenarios/local-sim.yaml: quant: Input should be")
               for line in lines)  # fmt: skip
    assert any(line.startswith(f"{configs}/providers.yaml: line") and "YAML syntax error" in line
               for line in lines)  # fmt: skip
    assert lines[-1] == "FAILED: 3 problem(s)"


def test_missing_configs_directory(tmp_path: Path) -> None:
    result = lint(tmp_path / "nowhere")
    assert result.returncode == 1
    assert "configs directory not found. Pass --configs DIR." in result.stdout


def test_a_profile_gating_p99_on_too_few_requests_is_a_warning_not_a_failure(
    tmp_path: Path,
) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, configs)
    pr = configs / "tests" / "perf" / "profiles" / "pr.yaml"
    pr.write_text(pr.read_text().replace("num_requests: 100", "num_requests: 4"))

    result = lint(configs)
    report = json.loads(lint(configs, "--json").stdout)

    assert result.returncode == 0, result.stdout
    [warning] = [w for w in report["warnings"] if w.startswith("local-sim pr:")]
    assert "perf profile 'pr' measures too few requests at c1-in128-out16 (4)" in warning
    assert "the gated P99 wants >= 100 per load point (gates.min_samples)" in warning
    assert warning in result.stdout
    assert not [w for w in report["warnings"] if w.startswith("local-sim daily:")]


def test_a_confirm_baseline_scenario_that_does_not_exist_is_a_problem(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, configs)
    settings = configs / "settings.yaml"
    settings.write_text(
        settings.read_text().replace("baseline_scenario: null", "baseline_scenario: main-build")
    )

    result = lint(configs)

    assert result.returncode == 1
    assert (
        f"{configs}/settings.yaml: gates.confirm.baseline_scenario: 'main-build' is not a "
        f"scenario in {configs}/scenarios/." in result.stdout
    )
