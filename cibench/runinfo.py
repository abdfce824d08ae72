"""Facts about the run itself: its id, the commit and branch under test, timestamps."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from datetime import datetime, timezone


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as `20261122-154512-3f9a`."""
    moment = now or datetime.now(timezone.utc)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def utc_now_iso() -> str:
    """The current time as an ISO-8601 UTC string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def clock_anchor() -> tuple[int, int]:
    """(Unix time ns, `perf_counter_ns`) read back to back: maps the monotonic timestamps of
    request records onto wall-clock time, to join them with server logs or other machines."""
    return time.time_ns(), time.perf_counter_ns()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def detect_commit() -> str:
    """The commit under test: CI variables first (GitHub, GitLab), then `git`, else `unknown`."""
    for name in ("CIBENCH_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"):
        if os.environ.get(name):
            return os.environ[name]
    return _git("rev-parse", "HEAD") or "unknown"


def detect_branch() -> str:
    """The branch under test: CI variables first, then `git`, else `unknown`."""
    for name in ("CIBENCH_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
        if os.environ.get(name):
            return os.environ[name]
    return _git("rev-parse", "--abbrev-ref", "HEAD") or "unknown"
