"""Where the capability baseline comes from: a file, a run directory, or the newest daily run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cibench.functional.capability_baseline import (
    CapabilityBaselineError,
    load_capability_baseline,
)


def write_run(root: Path, run_id: str, run_type: str, logprobs: str, mtime: float) -> Path:
    run = root / run_id
    (run / "s").mkdir(parents=True)
    (run / "session.json").write_text(json.dumps({"run_type": run_type}))
    os.utime(run / "session.json", (mtime, mtime))
    findings = {"logprobs": {"support": logprobs, "evidence": f"{run_id} said {logprobs}"}}
    (run / "s" / "capabilities.json").write_text(json.dumps({"findings": findings}))
    return run


def test_an_artifacts_root_gives_the_newest_daily_run(tmp_path: Path) -> None:
    write_run(tmp_path, "old-daily", "daily", "no", 1000)
    write_run(tmp_path, "new-daily", "daily", "yes", 2000)
    write_run(tmp_path, "newer-pr", "pr", "no", 3000)
    current = write_run(tmp_path, "current", "daily", "no", 4000)

    baseline = load_capability_baseline(tmp_path, "s", exclude=current)

    assert baseline is not None
    assert baseline.source == str(tmp_path / "new-daily" / "s" / "capabilities.json")
    assert baseline.supported("logprobs") is not None
    assert load_capability_baseline(tmp_path, "other", exclude=current) is None


def test_a_run_directory_or_a_file_is_used_as_is(tmp_path: Path) -> None:
    run = write_run(tmp_path, "r", "pr", "yes", 1000)
    by_dir = load_capability_baseline(run, "s")
    by_file = load_capability_baseline(run / "s" / "capabilities.json", "s")
    assert by_dir is not None
    assert by_file is not None
    assert by_dir.findings == by_file.findings


def test_a_bad_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CapabilityBaselineError, match="no such file or directory"):
        load_capability_baseline(tmp_path / "missing", "s")
    broken = tmp_path / "capabilities.json"
    broken.write_text("{}")
    with pytest.raises(CapabilityBaselineError, match="no 'findings' object"):
        load_capability_baseline(broken, "s")
