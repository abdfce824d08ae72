"""Stage test bodies shipped with the plugin: a repository's stage tests are thin callers.

    def test_perf(perf_point, server, stage_dir, request):
        measure_perf_point(perf_point, server, stage_dir, request.config)

Each runs one plan item against the scenario's server, records its results through
`cibench.artifacts`, and fails the test by the stage's policy (functional: a failed check or a
declared capability missing; perf: failure ratio, with a PR run's confirm step; accuracy:
score below threshold), with a message that says where the files are. The functional stage's
fixtures and CSV row per case come from `cibench.functional_plugin`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest

from cibench.accuracy.runner import AccuracyOutcome, run_profile
from cibench.artifacts import ScenarioWriter
from cibench.capacity.driver import run_search
from cibench.capacity.ladder import run_ladder
from cibench.capacity.soak import run_soak
from cibench.client.endpoint import Endpoint
from cibench.errors import DatasetError
from cibench.failures.logscan import LogPattern
from cibench.functional.results import CaseRecord
from cibench.functional.stage import CaseOutcome, Server, evaluate_case
from cibench.gates.confirm import Remeasurement, measuring
from cibench.perf.runner import PointOutcome, RunTarget, run_point
from cibench.plan import AccuracyItem, FunctionalItem, PerfItem
from cibench.session import SESSION_KEY, CibenchSession, RunContext

__all__ = ["check_functional_case", "measure_capacity", "measure_perf_point", "score_accuracy"]


def check_functional_case(
    functional_case: FunctionalItem,
    functional_server: Server,
    http_client: httpx.Client,
    functional_record: CaseRecord,
) -> CaseOutcome:
    """Run one functional case and check the reply: skip the test when the server lacks an
    undeclared capability the case needs, fail it with every failed check (which also go to
    the case's CSV row, through `functional_record`)."""
    outcome = evaluate_case(http_client, functional_case.case, functional_server)
    if outcome.status == "skip":
        pytest.skip(outcome.reason)
    functional_record.failures = list(outcome.failures)
    if outcome.status == "fail":
        pytest.fail(outcome.reason, pytrace=False)
    return outcome


def live_writer(config: pytest.Config) -> Callable[[str], None] | None:
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


def headline(outcome: PointOutcome) -> str:
    """One line per load point: successes, TTFT and TPOT medians, output throughput."""
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


def measure_perf_point(
    perf_point: PerfItem,
    server: Endpoint,
    stage_dir: Path,
    config: pytest.Config,
    log_patterns: Sequence[LogPattern] = (),
) -> PointOutcome:
    """Drive one load point, record its summary row and requests, and fail the test when more
    than the profile's `max_failure_ratio` of requests failed (or fewer than `min_good_ratio`
    met the goodput SLO). A harness-bound point is warned about and flagged in its summary
    row; the regression gates exclude it rather than failing the run on a property of the
    runner. On a PR run with a baseline, a point whose regression verdict is not a clear pass
    is measured once more (`cibench.gates.confirm`, settings `gates.confirm`) before the
    post-session gates."""
    profile = perf_point.profile
    target = RunTarget.from_endpoint(server, log_patterns)
    write = live_writer(config)
    outcome = run_point(target, profile, perf_point.point, ScenarioWriter(stage_dir), report=write)
    problems = outcome.failures(profile.max_failure_ratio, profile.min_good_ratio)
    for harness in outcome.health.reasons:
        warnings.warn(
            f"load point {perf_point.id}: harness bottleneck: {harness} (reported; its "
            "regression gates are excluded)",
            stacklevel=1,
        )
    session = config.stash.get(SESSION_KEY, None)
    if not problems and not outcome.health.harness_bound and session is not None:
        confirm(session, perf_point, target, outcome, write)
    if problems:
        lines = [f"load point {perf_point.id} (profile '{perf_point.profile_name}'):"]
        lines += [f"  - {problem}" for problem in problems + outcome.notes]
        lines.append(f"  summary: {outcome.summary_csv}")
        lines.append(f"  requests: {outcome.requests_csv}")
        pytest.fail("\n".join(lines), pytrace=False)
    print(headline(outcome))  # shown with -rA or -s
    return outcome


def measure_capacity(
    perf_point: PerfItem,
    server: Endpoint,
    stage_dir: Path,
    config: pytest.Config,
    log_patterns: Sequence[LogPattern] = (),
) -> None:
    """Run a whole SLO search, ladder or soak (docs/capacity.md); fail the test when a search
    found no answer it can stand behind, a ladder's first step broke, or a soak drifted."""
    profile, point = perf_point.profile, perf_point.point
    target = RunTarget.from_endpoint(server, log_patterns)
    writer = ScenarioWriter(stage_dir)
    report = live_writer(config)
    where = f"{perf_point.id} (profile '{perf_point.profile_name}')"
    if profile.soak is not None:
        soak = run_soak(target, profile, point.input_length, point.output_length, writer, report)
        if soak.drifted:
            pytest.fail(f"soak {where}: {soak.verdict()}\n  soak: {soak.soak_csv}", pytrace=False)
        print(soak.verdict())  # shown with -rA or -s
        return
    run = run_search if profile.search is not None else run_ladder
    result = run(target, profile, point.input_length, point.output_length, writer, report)
    if not result.converged or result.capacity is None:
        what = "SLO search" if run is run_search else "ladder"
        lines = [f"{what} {where}:", f"  {result.describe()}"]
        lines += [f"  capacity: {result.capacity_csv}", f"  probes: {result.probes_csv}"]
        pytest.fail("\n".join(lines), pytrace=False)
    print(result.describe())  # shown with -rA or -s


def confirm(
    session: CibenchSession,
    perf_point: PerfItem,
    target: RunTarget,
    outcome: PointOutcome,
    write: Callable[[str], None] | None,
) -> None:
    """PR runs: a point whose regression verdict is unsettled is measured once more now (in
    blocks interleaved with `gates.confirm.baseline_scenario`, when one is configured)."""
    profile, point = perf_point.profile, perf_point.point

    def remeasure_baseline(job: Remeasurement) -> object:
        endpoint = session.confirm_baseline_endpoint()
        assert endpoint is not None  # only passed when a baseline scenario is configured
        return measuring(target.with_server(endpoint), profile, point, write)(job)

    configured = session.settings.gates.confirm.baseline_scenario is not None
    for line in session.confirmer().after_point(
        perf_point.scenario_id,
        outcome.summary_csv,
        outcome.requests_csv,
        outcome.summary.duration_s,
        measuring(target, profile, point, write),
        remeasure_baseline if configured else None,
    ):
        if write is not None:
            write(line)
        print(line)


def score_accuracy(
    accuracy_run: AccuracyItem, server: Endpoint, stage_dir: Path, run: RunContext
) -> AccuracyOutcome:
    """Score the accuracy profile, record its `accuracy.csv` row and reports, and fail the
    test when the score is below the profile's threshold."""
    try:
        outcome = run_profile(
            accuracy_run.profile, server, run.configs.root, stage_dir, accuracy_run.profile_name
        )
    except DatasetError as exc:
        pytest.fail(f"profile '{accuracy_run.profile_name}': {exc}", pytrace=False)
    if not outcome.passed:
        pytest.fail(outcome.summary(), pytrace=False)
    print(outcome.summary())  # shown with -rA
    return outcome
