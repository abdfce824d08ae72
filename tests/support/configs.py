"""Copies of the shipped configs for end-to-end tests that must pass on a busy machine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BUSY_HOST_TOLERANCE = {
    "max_send_lag_ms": 2000,
    "max_receive_lag_ms": 2000,
    "rate_tolerance": 0.5,
    "completion_tolerance": 5.0,
}


def configs_for_a_busy_host(destination: Path) -> Path:
    """The repository's `configs/` copied to `destination`, every perf profile tolerating a
    late-sending harness: these tests check the flow end to end, not the host's timing (the
    harness-bottleneck verdict itself is tested in tests/unit/perf/)."""
    shutil.copytree(REPO / "configs", destination)
    for profile in (destination / "tests" / "perf" / "profiles").glob("*.yaml"):
        settings = yaml.safe_load(profile.read_text(encoding="utf-8")) | BUSY_HOST_TOLERANCE
        profile.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return destination


def run_session(
    configs: Path, artifacts: Path, run_id: str, *args: str, timeout: float = 240
) -> str:
    """Run one pytest session of the repository's stage tests (`args`: test paths and options)
    against `configs`, writing `artifacts/<run_id>/`; returns its output."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, f"--rootdir={REPO}", "-p", "no:cacheprovider",
         "-q", f"--configs={configs}", f"--artifacts={artifacts}", f"--run-id={run_id}"],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False,
    )  # fmt: skip
    return done.stdout + done.stderr
