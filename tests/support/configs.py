"""Copies of the shipped configs for end-to-end tests that must pass on a busy machine."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUSY_HOST_TOLERANCE = (
    "\n# end-to-end test on a busy host\nmax_send_lag_ms: 2000\nrate_tolerance: 0.5\n"
)


def configs_for_a_busy_host(destination: Path) -> Path:
    """The repository's `configs/` copied to `destination`, every perf profile tolerating a
    late-sending harness: these tests check the flow end to end, not the host's timing (the
    harness-bottleneck verdict itself is tested in tests/unit/perf/)."""
    shutil.copytree(REPO / "configs", destination)
    for profile in (destination / "tests" / "perf" / "profiles").glob("*.yaml"):
        profile.write_text(profile.read_text() + BUSY_HOST_TOLERANCE, encoding="utf-8")
    return destination
