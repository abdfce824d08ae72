"""Accuracy stage: simple-evals GPQA from the scenario's accuracy profile (configs/tests/accuracy/).

Writes `accuracy/gpqa_<model>_<ts>.{json,html}` and one `accuracy.csv` row under the scenario's
artifacts directory, and fails when the score is below the profile's threshold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.accuracy.runner import run_profile
from cibench.errors import DatasetError
from cibench.launch import Endpoint
from cibench.plan import AccuracyItem
from cibench.session import RunContext

pytestmark = pytest.mark.accuracy


def test_accuracy(
    accuracy_run: AccuracyItem, server: Endpoint, stage_dir: Path, cibench_run: RunContext
) -> None:
    try:
        outcome = run_profile(
            accuracy_run.profile,
            server,
            cibench_run.configs.root,
            stage_dir,
            accuracy_run.profile_name,
        )
    except DatasetError as exc:
        pytest.fail(f"profile '{accuracy_run.profile_name}': {exc}", pytrace=False)
    if not outcome.passed:
        pytest.fail(outcome.summary(), pytrace=False)
    print(outcome.summary())  # shown with -rA
