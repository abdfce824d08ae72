"""`cibench accuracy --scenario ID [--profile NAME]`: exit status, printed verdict, files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml
from acc_support import SIM_MODEL

from cibench.accuracy.synthetic import write_csv
from cibench.artifacts import read_run
from cibench.cli import accuracy as command


def make_configs(root: Path, base_url: str) -> Path:
    """A configs directory with an external scenario on the simulator and three profiles."""
    (root / "scenarios").mkdir(parents=True)
    (root / "tests/accuracy").mkdir(parents=True)
    write_csv(root / "datasets/gpqa_synthetic.csv", 10)
    scenario = {"id": "sim", "mode": "external", "model": SIM_MODEL, "base_url": base_url}
    (root / "scenarios/sim.yaml").write_text(yaml.safe_dump(scenario))
    (root / "matrix.yaml").write_text("scenarios: {}\n")
    common = {
        "synthetic": True,
        "dataset_path": "datasets/gpqa_synthetic.csv",
        "debug": True,
        "max_tokens": 256,
        "request_timeout_seconds": 10,
    }
    profiles = {
        "pr": {**common, "threshold": 0.0},
        "strict": {**common, "threshold": 1.0},
        "absent": {**common, "dataset_path": "datasets/nowhere.csv"},
    }
    for name, profile in profiles.items():
        (root / f"tests/accuracy/{name}.yaml").write_text(yaml.safe_dump(profile))
    return root


def run_cli(configs: Path, artifacts: Path, *argv: str) -> int:
    # the same parser shape cibench.cli builds: common options, then the sub-command's own
    parser = argparse.ArgumentParser(prog="cibench accuracy")
    parser.add_argument("--configs", default="configs")
    parser.add_argument("--artifacts", default="artifacts")
    command.add_arguments(parser)
    args = parser.parse_args(["--configs", str(configs), "--artifacts", str(artifacts), *argv])
    return command.run(args)


def test_passing_run_prints_the_verdict_and_writes_files(
    sim_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = make_configs(tmp_path / "configs", sim_url)
    assert run_cli(configs, tmp_path / "artifacts", "--scenario", "sim") == 0
    out = capsys.readouterr().out
    assert "gpqa synthetic accuracy" in out
    assert "reaches the threshold 0.0000 on n=5 samples" in out
    [json_path] = (tmp_path / "artifacts").glob("*/sim/accuracy/gpqa_org_sim-model_*.json")
    assert json.loads(json_path.read_text())["n_samples"] == 5
    assert len(list((tmp_path / "artifacts").glob("*/sim/accuracy.csv"))) == 1
    # a complete run directory, as a pytest session leaves it
    [run_dir] = (tmp_path / "artifacts").iterdir()
    run = read_run(run_dir)
    [scenario] = run.scenarios
    assert scenario.expected_stages == ("accuracy",)
    assert scenario.run_json_found
    assert scenario.has_results("accuracy")


def test_score_below_threshold_exits_1(
    sim_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = make_configs(tmp_path / "configs", sim_url)
    status = run_cli(configs, tmp_path / "artifacts", "--scenario", "sim", "--profile", "strict")
    assert status == 1
    assert "is below the threshold 1.0000 on n=5 samples" in capsys.readouterr().out


def test_dataset_path_option_overrides_the_profile(
    sim_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = make_configs(tmp_path / "configs", sim_url)
    other = write_csv(tmp_path / "other.csv", 8, seed=9)
    argv = ("--scenario", "sim", "--profile", "absent", "--dataset-path", str(other))
    assert run_cli(configs, tmp_path / "artifacts", *argv) == 0
    [json_path] = (tmp_path / "artifacts").glob("*/sim/accuracy/*.json")
    assert json.loads(json_path.read_text())["dataset_file"] == str(other)
    capsys.readouterr()


def test_missing_dataset_exits_2_with_the_message(
    sim_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = make_configs(tmp_path / "configs", sim_url)
    status = run_cli(configs, tmp_path / "artifacts", "--scenario", "sim", "--profile", "absent")
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("cibench accuracy: GPQA dataset not found: dataset_path")
    assert str(configs / "datasets/nowhere.csv") in err
    assert not (tmp_path / "artifacts").exists()  # checked before any server is reached


def test_unknown_profile_lists_the_known_ones(
    sim_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = make_configs(tmp_path / "configs", sim_url)
    assert run_cli(configs, tmp_path / "a", "--scenario", "sim", "--profile", "nope") == 2
    assert "no profile 'nope.yaml' (have: absent, pr, strict)" in capsys.readouterr().err
