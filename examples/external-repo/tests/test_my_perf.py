"""Our perf stage: the plugin parametrizes `perf_point` from configs/ and starts the server;
`measure_perf_point` drives the load point, writes the artifacts and applies the fail policy."""

import pytest

from cibench.stages import measure_perf_point

pytestmark = pytest.mark.perf


def test_my_perf(perf_point, server, stage_dir, request):
    outcome = measure_perf_point(perf_point, server, stage_dir, request.config)
    assert outcome.summary.successes == outcome.summary.requests
