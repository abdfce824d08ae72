"""Accuracy stage: simple-evals GPQA from the scenario's accuracy profile (configs/tests/accuracy/).

Writes `accuracy/gpqa_<model>_<ts>.{json,html}` and one `accuracy.csv` row under the scenario's
artifacts directory, and fails when the score is below the profile's threshold
(`cibench.stages.score_accuracy`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.launch import Endpoint
from cibench.plan import AccuracyItem
from cibench.session import RunContext
from cibench.stages import score_accuracy

pytestmark = pytest.mark.accuracy


def test_accuracy(
    accuracy_run: AccuracyItem, server: Endpoint, stage_dir: Path, cibench_run: RunContext
) -> None:
    score_accuracy(accuracy_run, server, stage_dir, cibench_run)
