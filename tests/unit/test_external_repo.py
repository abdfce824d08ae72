"""Another repository uses cibench: its own configs/ and test files, the installed plugin.

`examples/external-repo/` is copied out of this checkout and run with a plain `pytest`; the run
directory must be as complete as one of cibench's own (session, run, functional and perf CSVs,
capabilities, metrics, gates).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from cibench.artifacts import RunReader, read_run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "external-repo"


def test_the_example_repository_runs_with_the_installed_plugin(tmp_path: Path) -> None:
    repo = tmp_path / "their-repo"
    shutil.copytree(EXAMPLE, repo)
    # their environment: none of this run's CIBENCH_*/PYTEST_* settings, not our checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIBENCH_", "PYTEST_"))}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--run-id", "ext", "-q"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "4 passed" in output
    run_dir = repo / "artifacts" / "ext"
    [scenario] = read_run(run_dir).scenarios
    assert scenario.scenario == "my-sim"
    assert scenario.expected_stages == ("functional", "perf")
    assert [(case.suite, case.case_id, case.status) for case in scenario.functional] == [
        ("smoke", "chat", "pass"),
        ("smoke", "chat_stream", "pass"),
    ]
    assert (run_dir / "my-sim" / "capabilities.json").exists()
    assert [point.concurrency for point in scenario.perf] == [1, 2]
    gates = RunReader(run_dir).gates()
    assert gates is not None
    assert gates.exit_code == 0
    assert "myteam_requests_per_second" in (run_dir / "metrics.prom").read_text()
