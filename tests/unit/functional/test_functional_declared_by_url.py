"""A server given by URL declares its capabilities on the command line (--features)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from cibench.sim.testing import run_simulator

REPO = Path(__file__).resolve().parents[3]


def run(url: str, artifacts: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "tests/functional", "-m", "functional", "-q"]
    argv += ["-p", "no:cacheprovider", "--scenario", url, f"--artifacts={artifacts}"]
    argv += ["--run-id", "url", "-k", "chat_core and (basic or greedy)", *extra]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_features_from_the_command_line_apply_to_a_url_scenario(tmp_path: Path) -> None:
    with run_simulator("--model", "m") as url:
        done = run(url, tmp_path, "--features", "chat=false")
        bad = run(url, tmp_path / "bad", "--features", "chatt")
    stage = tmp_path / "url" / "m"  # a URL scenario is named by its served model
    with (stage / "functional.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, done.stdout[-2000:]
    assert {r["status"] for r in rows} == {"skip"}
    assert rows[0]["reason"] == "capability 'chat' is off: features.chat: false in --features"
    assert bad.returncode == 4
    assert "--features: unknown capability 'chatt'; known: chat" in bad.stderr
