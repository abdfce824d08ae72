"""The post-session entry point: collect artifacts, run gates, write metrics, push, summarise.

Called once per session (the xdist controller, or the only process) after `session.json` is
written. Nothing here raises for a problem with the run itself: every problem becomes a line of
the summary and, where it matters, `PostSessionResult.failed`.

Exit status (`PostSessionResult.exit_code`, applied by the session when the tests passed):
  0  everything the run type requires passed
  6  EXIT_GATE_FAILED: a PR run with a failing gate (daily runs only warn), an unreadable
     baseline path, or (with `require_baseline`) a baseline that is missing or lacks a point
  7  EXIT_PUSH_FAILED: a daily run whose push to a configured Pushgateway did not happen
     (unreachable, refused) or whose artifacts could not be read. A daily run with no
     Pushgateway configured (a local daily run) skips the push with a line saying so: exit 0.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cibench.artifacts import GatesFile, RunResults, RunWriter, read_run
from cibench.config.settings import Settings
from cibench.errors import BaselineMissing, BaselineUnreadable, CibenchError, PushError
from cibench.gates.baseline import load_baseline, with_remeasured_baseline
from cibench.gates.rules import Baseline, Verdict, evaluate, skip_counts
from cibench.gates.samples import load_run_samples
from cibench.metrics.build import build_registry
from cibench.metrics.push import auth_from_env, push_registry, redact_url, write_metrics_file
from cibench.report.html_step import write_report_step
from cibench.report.summary import render_table

INSTANCE_ENV = "CIBENCH_INSTANCE"
"""Env var naming the grouping-key `instance` (default: the hostname)."""
NO_BASELINE_CONFIGURED = "none configured (regression gates say `no baseline`)"
EXIT_GATE_FAILED = 6
EXIT_PUSH_FAILED = 7
METRICS_FILE = "metrics.prom"


@dataclass(frozen=True, slots=True)
class PostSessionOptions:
    """What the session decided (CLI and env overrides already applied)."""

    run_type: str
    pushgateway_url: str | None
    baseline: str | None
    gates_enabled: bool
    require_baseline: bool = False
    """A missing baseline, or one lacking a load point of the run, fails the run (exit 6)."""
    instance: str | None = None
    """Grouping-key `instance`; None = `$CIBENCH_INSTANCE`, else this machine's hostname."""
    push_timeout_s: float = 10.0
    interrupted: bool = False
    """The session was interrupted (Ctrl-C, SIGTERM): gates fail and nothing is pushed."""
    html_report: bool = True
    """Write `report.html` (needs the `reports` extra; skipped with a note without it)."""


@dataclass(slots=True)
class PostSessionResult:
    """What the session needs back: whether to fail, and what to print."""

    failed: bool
    summary_lines: list[str]
    exit_code: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    push_error: str | None = None
    metrics_path: Path | None = None
    gates_path: Path | None = None


def push_instance(explicit: str | None, environ: Mapping[str, str]) -> str:
    """The grouping-key `instance`: given, else `$CIBENCH_INSTANCE`, else the hostname.

    Set a stable name on ephemeral CI runners: every new hostname is a new Pushgateway group,
    and the gateway keeps old groups forever.
    """
    return explicit or environ.get(INSTANCE_ENV) or socket.gethostname()


def resolve_baseline(
    run: RunResults,
    settings: Settings,
    source: str | None,
    *,
    pushgateway_url: str | None,
    environ: Mapping[str, str],
    timeout_s: float = 10.0,
) -> tuple[Baseline | None, str]:
    """Load the baseline named by `source`; return it (None when unavailable) and a summary line."""
    if not source:
        return None, f"baseline: {NO_BASELINE_CONFIGURED}"
    try:
        auth = auth_from_env(
            environ, settings.pushgateway_user_env, settings.pushgateway_password_env
        )
        baseline = load_baseline(
            source,
            scenarios=[results.scenario for results in run.scenarios],
            prefix=settings.metric_prefix,
            job=settings.job,
            pushgateway_url=pushgateway_url,
            auth=auth,
            exclude=run.run_dir,
            timeout_s=timeout_s,
            history_runs=settings.gates.history_runs,
        )
    except BaselineUnreadable:
        raise  # a path that does not exist is a typo to report, not "no baseline"
    except (BaselineMissing, PushError) as exc:
        return None, f"baseline: unavailable: {exc}"
    if not baseline.points:
        return baseline, f"baseline: {baseline.source}: nothing matches this run's scenarios"
    return baseline, f"baseline: {baseline.source}"


def missing_baseline(baseline: Baseline | None, run: RunResults, source: str | None) -> str | None:
    """Why a run that requires a baseline has none (None when every perf load point of the run
    has a baseline point, or the run has no perf points)."""
    if not source:
        return f"--require-baseline: {NO_BASELINE_CONFIGURED}"
    if baseline is None:
        return "--require-baseline: the baseline could not be read (see the baseline line)"
    lacking = [
        f"{results.scenario} {point.key.describe()}"
        for results in run.scenarios
        for point in results.perf
        if baseline.lookup(results.scenario, point.key) is None
    ]
    if lacking:
        more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
        return f"--require-baseline: no baseline for {', '.join(lacking[:3])}{more}"
    return None


@dataclass(slots=True)
class GateOutcome:
    """The gates of one run: verdicts, the lines to print, and why the baseline failed the run
    (an unreadable path, or a required baseline that is missing; None when neither)."""

    verdicts: list[Verdict]
    lines: list[str]
    baseline_error: str | None


def gate_run(
    run: RunResults,
    settings: Settings,
    source: str | None,
    *,
    pushgateway_url: str | None,
    environ: Mapping[str, str],
    require_baseline: bool = False,
    timeout_s: float = 10.0,
) -> GateOutcome:
    """Load the baseline and the run's per-request samples, and evaluate every gate."""
    baseline_error: str | None = None
    try:
        baseline, baseline_line = resolve_baseline(
            run,
            settings,
            source,
            pushgateway_url=pushgateway_url,
            environ=environ,
            timeout_s=timeout_s,
        )
    except BaselineUnreadable as exc:
        baseline, baseline_error = None, str(exc)
        baseline_line = f"baseline: FAILED: {exc}"
    baseline = with_remeasured_baseline(baseline, run)
    verdicts = evaluate(run, baseline, settings.gates, load_run_samples(run))
    lines = [baseline_line, *render_table(verdicts)]
    if require_baseline and baseline_error is None:
        baseline_error = missing_baseline(baseline, run, source)
        if baseline_error:
            lines.append(f"baseline: FAILED: {baseline_error}")
    return GateOutcome(verdicts, lines, baseline_error)


def write_metrics(
    run: RunResults, verdicts: Sequence[Verdict], settings: Settings, now_s: float
) -> Path:
    """Write `<run_dir>/metrics.prom` holding every scenario's metrics; return its path."""
    path = run.run_dir / METRICS_FILE
    registry = build_registry(run, verdicts, prefix=settings.metric_prefix, now_s=now_s)
    write_metrics_file(path, registry)
    return path


def failing_gates_line(verdicts: Sequence[Verdict], effect: str) -> str | None:
    """`gates: FAILED scenario:gate, ... (effect)`, or None when nothing failed."""
    failing = sorted({f"{v.scenario}:{v.gate}" for v in verdicts if v.failed})
    return f"gates: FAILED {', '.join(failing)} ({effect})" if failing else None


def push_run(
    run: RunResults,
    verdicts: Sequence[Verdict],
    settings: Settings,
    url: str,
    *,
    instance: str,
    environ: Mapping[str, str],
    now_s: float,
    timeout_s: float = 10.0,
) -> tuple[list[str], list[str]]:
    """PUT each scenario as its own group; return (summary lines, error lines)."""
    lines: list[str] = []
    errors: list[str] = []
    try:
        auth = auth_from_env(
            environ, settings.pushgateway_user_env, settings.pushgateway_password_env
        )
    except PushError as exc:
        return [], [f"push: FAILED: {exc}"]
    for results in run.scenarios:
        registry = build_registry(
            run,
            verdicts,
            prefix=settings.metric_prefix,
            now_s=now_s,
            scenarios={results.scenario},
        )
        grouping_key = {"instance": instance, "scenario": results.scenario}
        try:
            push_registry(url, settings.job, grouping_key, registry, auth=auth, timeout_s=timeout_s)
        except PushError as exc:
            errors.append(f"push: FAILED: {exc}")
        else:
            lines.append(
                f"push: {redact_url(url)} job={settings.job} instance={instance} "
                f"scenario={results.scenario}: ok"
            )
    return lines, errors


def _scenario_notes(run: RunResults) -> list[str]:
    notes = []
    for results in run.scenarios:
        if results.launch_error is not None:
            first = (results.launch_error.strip().splitlines() or ["(no message)"])[0]
            notes.append(f"scenario {results.scenario}: server failed to start: {first}")
        missing = [stage for stage in results.expected_stages if not results.has_results(stage)]
        if missing:
            notes.append(
                f"scenario {results.scenario}: no results from {', '.join(missing)} "
                f"(expected: {', '.join(results.expected_stages)})"
            )
        notes += [f"scenario {results.scenario}: {problem}" for problem in results.problems]
    return notes


def run_post_session(
    run_dir: Path,
    settings: Settings,
    options: PostSessionOptions,
    *,
    environ: Mapping[str, str] | None = None,
    now_s: float | None = None,
) -> PostSessionResult:
    """Collect `run_dir`, gate it, write `metrics.prom` and `gates.json`, push when daily."""
    environ = os.environ if environ is None else environ
    now_s = time.time() if now_s is None else now_s
    daily = options.run_type == "daily"
    lines = [f"cibench post-session ({options.run_type} run, {run_dir})"]
    try:
        run = read_run(run_dir)
    except CibenchError as exc:
        lines.append(f"artifacts: cannot read the run: {exc}")
        return PostSessionResult(
            failed=True,
            summary_lines=lines,
            exit_code=EXIT_PUSH_FAILED if daily else EXIT_GATE_FAILED,
        )
    lines += _scenario_notes(run)

    verdicts: list[Verdict] = []
    baseline_error: str | None = None
    if options.gates_enabled:
        outcome = gate_run(
            run,
            settings,
            options.baseline,
            pushgateway_url=options.pushgateway_url,
            environ=environ,
            require_baseline=options.require_baseline,
            timeout_s=options.push_timeout_s,
        )
        verdicts, baseline_error = outcome.verdicts, outcome.baseline_error
        lines += outcome.lines
    else:
        lines.append("gates: disabled (--no-gates)")

    metrics_path = write_metrics(run, verdicts, settings, now_s)
    lines.append(f"metrics: {metrics_path}")

    push_error: str | None = None
    if options.interrupted:
        lines.append("push: skipped (the run was interrupted; a partial run is never pushed)")
    elif daily:
        if options.pushgateway_url:
            push_lines, errors = push_run(
                run,
                verdicts,
                settings,
                options.pushgateway_url,
                instance=push_instance(options.instance, environ),
                environ=environ,
                now_s=now_s,
                timeout_s=options.push_timeout_s,
            )
            lines += push_lines + errors
            push_error = "\n".join(errors) or None
        else:
            lines.append(
                "push: skipped: no Pushgateway configured (a daily CI job passes --pushgateway "
                f"URL or sets pushgateway_url in configs/settings.yaml); metrics: {metrics_path}"
            )
    else:
        lines.append(f"push: skipped ({options.run_type} runs never push)")

    gate_failed = any(verdict.failed for verdict in verdicts)
    exit_code = 0
    if daily and push_error is not None:
        exit_code = EXIT_PUSH_FAILED
    elif not daily and gate_failed:
        exit_code = EXIT_GATE_FAILED
    if exit_code == 0 and (baseline_error is not None or options.interrupted):
        exit_code = EXIT_GATE_FAILED
    gates_path = RunWriter(run_dir).write_gates(
        GatesFile(
            run_id=run.run_id,
            run_type=options.run_type,
            gates_enabled=options.gates_enabled,
            baseline=options.baseline,
            failed=exit_code != 0,
            gate_failed=gate_failed,
            push_error=push_error,
            baseline_error=baseline_error,
            interrupted=options.interrupted,
            exit_code=exit_code,
            functional_skipped={
                results.scenario: skip_counts(results)
                for results in run.scenarios
                if results.functional
            },
            verdicts=[verdict.to_record() for verdict in verdicts],
        )
    )
    lines.append(f"gates: {gates_path}")
    if options.html_report:
        lines.append(write_report_step(run, options.baseline))
    failing = failing_gates_line(verdicts, "warning only" if daily else "the run fails")
    if failing:
        lines.append(failing)
    return PostSessionResult(
        failed=exit_code != 0,
        summary_lines=lines,
        exit_code=exit_code,
        verdicts=verdicts,
        push_error=push_error,
        metrics_path=metrics_path,
        gates_path=gates_path,
    )
