"""The pytest plugin end to end: parametrisation, server lifecycle, fail-and-continue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FAKE = Path(__file__).parent / "launch" / "fake_server.py"

STAGE_TESTS = """
import pytest


@pytest.mark.perf
def test_point(perf_point, server, stage_dir, cibench_run):
    assert server.model == "sim-m"
    assert stage_dir == cibench_run.run_dir / perf_point.scenario_id
    (stage_dir / f"{perf_point.point.id}.txt").write_text(server.base_url)


@pytest.mark.functional
def test_case(functional_case, server):
    assert functional_case.case.id == "hello"
"""


def write_run(tmp_path: Path) -> Path:
    """Configs with a scenario that cannot start ('broken') and one that can ('good')."""
    configs = tmp_path / "configs"
    files = {
        "scenarios/broken.yaml": (
            "id: broken\nmode: local\nmodel: m\n"
            f"command: '{{python}} {FAKE} {{port}} {tmp_path / 'pid'} --exit-code 7'\n"
        ),
        "scenarios/good.yaml": (
            "id: good\nmode: local\nmodel: m\nserved_model_name: sim-m\n"
            "command: '{python} -m cibench.sim --host {host} --port {port} --model {model} "
            "--served-model-name {served_model_name}'\n"
        ),
        "tests/perf/profiles/pr.yaml": (
            "concurrency: [1, 2]\ninput_length: [8]\noutput_length: [4]\n"
        ),
        "tests/functional/chat_core.yaml": "suite: chat_core\ncases:\n  - id: hello\n",
        "matrix.yaml": (
            "scenarios:\n"
            "  broken:\n    pr: {perf: true, perf_profile: pr}\n"
            "  good:\n    pr: {perf: true, perf_profile: pr}\n"
        ),
    }
    for relative, text in files.items():
        path = configs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "test_stage.py").write_text(STAGE_TESTS, encoding="utf-8")
    return configs


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "test_stage.py"), "-p", "no:cacheprovider",
         "--configs", str(tmp_path / "configs"), "--artifacts", str(tmp_path / "artifacts"),
         "--run-id", "run1", "-rA", *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip


def test_a_scenario_that_fails_to_start_does_not_stop_the_next(tmp_path: Path) -> None:
    write_run(tmp_path)
    result = run_pytest(tmp_path, "-m", "perf", "--scenario", "broken", "--scenario", "good",
                        "--no-gates")  # fmt: skip
    out = result.stdout
    assert result.returncode == 1, out
    assert "2 passed" in out
    assert "2 errors" in out
    assert out.count("scenario 'broken': server exited with code 7") >= 2
    assert "PASSED test_stage.py::test_point[good-c1-in8-out4]" in out
    assert "PASSED test_stage.py::test_point[good-c2-in8-out4]" in out

    run_dir = tmp_path / "artifacts" / "run1"
    broken = json.loads((run_dir / "broken" / "run.json").read_text())
    good = json.loads((run_dir / "good" / "run.json").read_text())
    assert "exited with code 7" in broken["launch_error"]
    assert good["launch_error"] is None
    assert good["server_models"]["data"][0]["id"] == "sim-m"
    assert good["end"] is not None
    assert (run_dir / "good" / "c2-in8-out4.txt").read_text().startswith("http://127.0.0.1:")
    session = json.loads((run_dir / "session.json").read_text())
    assert session["scenarios"]["good"]["stages"] == ["perf"]


def test_a_stage_the_matrix_turns_off_is_skipped_with_the_reason(tmp_path: Path) -> None:
    write_run(tmp_path)
    result = run_pytest(tmp_path, "-m", "functional", "--scenario", "good", "--no-gates")
    assert "stage 'functional' is off for good/pr" in result.stdout
    assert "1 skipped" in result.stdout
    assert "(matrix.yaml scenarios.good.pr.functional)" in result.stdout


def test_tests_are_ordered_scenario_by_scenario(tmp_path: Path) -> None:
    write_run(tmp_path)
    result = run_pytest(tmp_path, "--collect-only", "-q", "--scenario", "good",
                        "--scenario", "broken")  # fmt: skip
    ids = [line for line in result.stdout.splitlines() if line.startswith("test_stage.py::")]
    assert ids == [
        "test_stage.py::test_case[good-functional-off]",
        "test_stage.py::test_point[good-c1-in8-out4]",
        "test_stage.py::test_point[good-c2-in8-out4]",
        "test_stage.py::test_case[broken-functional-off]",
        "test_stage.py::test_point[broken-c1-in8-out4]",
        "test_stage.py::test_point[broken-c2-in8-out4]",
    ]


def test_broken_configs_stop_the_run_with_every_problem(tmp_path: Path) -> None:
    configs = write_run(tmp_path)
    (configs / "tests/perf/profiles/pr.yaml").write_text(
        "concurrency: [0]\ninput_length: [8]\noutput_length: [4]\n"
    )
    (configs / "matrix.yaml").write_text("scenarios:\n  ghost:\n    pr: {perf: true}\n")
    result = run_pytest(tmp_path, "--scenario", "good")
    assert result.returncode == 4
    assert "pr.yaml: concurrency[0]: Input should be greater than 0; got 0." in result.stderr
    assert "matrix.yaml: scenarios.ghost: unknown scenario" in result.stderr
    assert "is not a file" not in result.stderr  # pr.yaml exists; its own error is enough
    assert "cibench lint" in result.stderr


def test_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    write_run(tmp_path)
    result = run_pytest(tmp_path, "--scenario", "nope")
    assert result.returncode == 4
    assert "unknown scenario 'nope'" in result.stderr
    assert "known: broken, good" in result.stderr


def test_under_xdist_each_scenario_starts_once_on_one_worker(tmp_path: Path) -> None:
    write_run(tmp_path)
    result = run_pytest(tmp_path, "-v", "-n", "2", "-m", "perf", "--scenario", "good",
                        "--scenario", "broken", "--no-gates")  # fmt: skip
    assert "2 passed, 2 errors" in result.stdout, result.stdout
    run_dir = tmp_path / "artifacts" / "run1"
    # one start attempt for the broken scenario although its two tests could land on 2 workers
    assert (run_dir / "broken" / "server.log").read_text().count("refusing to start") == 1
    workers = {
        line.split("]")[0]
        for line in result.stdout.splitlines()
        if line.startswith("[gw") and "test_point[good" in line
    }
    assert len(workers) == 1, result.stdout  # both of good's tests ran on one worker
    assert json.loads((run_dir / "session.json").read_text())["run_id"] == "run1"


def test_a_space_separated_absolute_configs_path_gets_a_clear_error(tmp_path: Path) -> None:
    configs = write_run(tmp_path)
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "--configs", str(configs), "--scenario", "good"],
        capture_output=True, text=True, timeout=120, cwd=repo, check=False,
    )  # fmt: skip
    assert result.returncode == 4
    assert f"Write --configs={configs} instead." in result.stderr
