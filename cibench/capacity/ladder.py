"""Run a ladder: step the load (or a token length) through the configured steps, each a normal
perf load point, stopping after the first step that breaks the SLO or fails."""

from __future__ import annotations

import time

from cibench.artifacts import ScenarioWriter
from cibench.capacity.driver import (
    Probe,
    Report,
    SearchOutcome,
    capacity_row,
    probe_row,
    verdict,
)
from cibench.capacity.files import append_capacity, append_probe, capacity_path, probes_path
from cibench.capacity.slo import breaches
from cibench.config.capacity import Slo
from cibench.config.perf import PerfProfile
from cibench.perf.runner import RunTarget, run_point

__all__ = ["run_ladder"]


def _slo(profile: PerfProfile) -> Slo:
    """The profile's SLO, else only its failure ratio (`max_failure_ratio`)."""
    if profile.slo is not None:
        return profile.slo
    return Slo({"fail_rate": min(profile.max_failure_ratio, 0.999)})


def run_ladder(
    target: RunTarget,
    profile: PerfProfile,
    input_length: int,
    output_length: int,
    writer: ScenarioWriter,
    report: Report | None = None,
) -> SearchOutcome:
    """Climb `profile.ladder.steps`; the answer is the highest step that kept the SLO.

    Every step appends its load point to the summary CSV and its verdict to `probes_*.csv` as it
    ends; the answer goes to `capacity_*.csv`. A step also breaks when more than
    `max_failure_ratio` of its requests failed.
    """
    ladder = profile.ladder
    if ladder is None:
        raise ValueError("run_ladder needs a profile with 'ladder'")
    slo = _slo(profile)
    perf_dir = writer.perf_dir
    perf_dir.mkdir(parents=True, exist_ok=True)
    probes_csv = probes_path(perf_dir, target.provider)
    steps: list[Probe] = []
    started = time.monotonic()
    stop_reason = f"every step run ({len(ladder.steps)})"
    for step in ladder.steps:
        point = profile.ladder_point(input_length, output_length, step)
        outcome = run_point(target, profile, point, writer, report)
        found = breaches(outcome.summary, slo, outcome.good_requests)
        ratio = outcome.summary.failure_ratio
        failing = ratio is None or ratio > profile.max_failure_ratio
        judged = verdict(outcome, found)
        if judged == "pass" and failing:
            judged = "break"
        probe = Probe(step, judged, tuple(found), outcome)
        steps.append(probe)
        elapsed = time.monotonic() - started
        append_probe(probes_csv, probe_row(target, ladder.over, slo, len(steps), probe, elapsed))
        if report is not None:
            detail = "; ".join(b.describe() for b in found) or (
                f"failure ratio {ratio:.1%}" if failing and ratio is not None else "all limits kept"
            )
            report(f"ladder step {len(steps)} {point.id}: {probe.verdict} ({detail})")
        if probe.verdict != "pass" and ladder.stop_on_break:
            stop_reason = f"{probe.verdict} at step {len(steps)} ({step:g})"
            break
    passed = [p.load for p in steps if p.verdict == "pass"]
    broke = [p.load for p in steps if p.verdict != "pass"]
    result = SearchOutcome(
        over=ladder.over,
        input_length=input_length,
        output_length=output_length,
        capacity=max(passed) if passed else None,
        lowest_breaking=min(broke) if broke else None,
        converged=not any(p.verdict in ("harness-bound", "server failing") for p in steps),
        stop_reason=stop_reason,
        elapsed_s=time.monotonic() - started,
        probes=steps,
        probes_csv=probes_csv,
    )
    result.capacity_csv = capacity_path(perf_dir, target.provider)
    append_capacity(result.capacity_csv, capacity_row(target, profile.backend, None, slo, result))
    return result
