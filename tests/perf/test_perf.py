"""Perf stage: one test per load point of the scenario's perf profile (configs/tests/perf/).

Each test drives its load point against the scenario's server, appends a row to
`perf/summary_<scenario>_<control>_<backend>_<time>.csv` and writes the point's
`perf/requests_*.csv`; it fails when more than the profile's `max_failure_ratio` of requests
failed. A harness-bound point is reported and its regression gates excluded; on a PR run with a
baseline, an unsettled point is measured once more (`cibench.stages.measure_perf_point`).
A profile with `control_method: search`, `ladder` or `soak` gets one test per shape (a length
ladder: one in all) that runs the whole search, ladder or soak (`measure_capacity`,
docs/capacity.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.failures.logscan import LogPattern
from cibench.launch import Endpoint
from cibench.plan import PerfItem
from cibench.stages import measure_capacity, measure_perf_point

pytestmark = pytest.mark.perf


def test_perf(
    perf_point: PerfItem,
    server: Endpoint,
    stage_dir: Path,
    log_patterns: tuple[LogPattern, ...],
    request: pytest.FixtureRequest,
) -> None:
    profile = perf_point.profile
    if profile.search or profile.ladder or profile.soak:
        measure_capacity(perf_point, server, stage_dir, request.config, log_patterns)
    else:
        measure_perf_point(perf_point, server, stage_dir, request.config, log_patterns)
