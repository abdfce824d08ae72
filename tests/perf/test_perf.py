"""Perf stage: one test per load point of the scenario's perf profile (configs/tests/perf/).

Each test drives its load point against the scenario's server, appends a row to
`perf/summary_<scenario>_<control>_<backend>_<time>.csv` and writes the point's
`perf/requests_*.csv` under the scenario's artifacts directory. It fails when more than the
profile's `max_failure_ratio` (5%) of requests failed, or when the harness itself was the
bottleneck (send lag or achieved rate out of tolerance).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter
from cibench.launch import Endpoint
from cibench.perf.runner import PointOutcome, RunTarget, run_point
from cibench.plan import PerfItem

pytestmark = pytest.mark.perf


def _live_writer(config: pytest.Config) -> Callable[[str], None] | None:
    """Progress lines straight to the terminal (around pytest's output capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return None

    def write(text: str) -> None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(f"  perf {text}")

    return write


def _headline(outcome: PointOutcome) -> str:
    summary = outcome.summary

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 1e3:.1f} ms"

    ttft = summary.ttft.at(50.0) if summary.ttft else None
    tpot = summary.tpot.at(50.0) if summary.tpot else None
    throughput = summary.output_throughput
    return (
        f"{outcome.point.id}: {summary.successes}/{summary.requests} ok, "
        f"TTFT p50 {ms(ttft)}, TPOT p50 {ms(tpot)}, "
        f"{'n/a' if throughput is None else f'{throughput:.0f}'} output tok/s"
    )


def test_perf(
    perf_point: PerfItem, server: Endpoint, stage_dir: Path, request: pytest.FixtureRequest
) -> None:
    profile = perf_point.profile
    write = _live_writer(request.config)
    target = RunTarget(
        base_url=server.base_url,
        model=server.model,
        provider=perf_point.scenario_id,
        scenario=perf_point.scenario_id,
        api_key=server.api_key,
    )
    outcome = run_point(target, profile, perf_point.point, ScenarioWriter(stage_dir), report=write)
    problems = outcome.problems(profile.max_failure_ratio)
    if problems:
        lines = [f"load point {perf_point.id} (profile '{perf_point.profile_name}'):"]
        lines += [f"  - {problem}" for problem in problems + outcome.notes]
        lines.append(f"  summary: {outcome.summary_csv}")
        lines.append(f"  requests: {outcome.requests_csv}")
        pytest.fail("\n".join(lines), pytrace=False)
    print(_headline(outcome))  # shown with -rA or -s
