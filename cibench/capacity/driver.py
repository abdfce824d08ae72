"""Run an SLO search against a server: each probe is a normal perf load point (CSV rows kept),
judged against the profile's SLO; the bisection picks the next probe until it converges or a
budget, a failing server or a harness bottleneck stops it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cibench.artifacts import ScenarioWriter
from cibench.artifacts.capacity import CapacityRow
from cibench.capacity.files import append_capacity, append_probe, capacity_path, probes_path
from cibench.capacity.search import Bisection
from cibench.capacity.slo import Breach, breaches, measured
from cibench.config.capacity import Slo
from cibench.config.perf import PerfProfile
from cibench.perf.runner import PointOutcome, RunTarget, run_point

__all__ = ["Probe", "SearchOutcome", "capacity_row", "probe_row", "run_search", "verdict"]

Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe: its load, verdict and the measured point behind it."""

    load: float
    verdict: str
    """`pass`, `break`, `harness-bound` or `server failing`."""
    breaches: tuple[Breach, ...]
    outcome: PointOutcome


@dataclass(slots=True)
class SearchOutcome:
    """What a search found: the answer (None when no probe kept the SLO) and how it got there."""

    over: str
    input_length: int
    output_length: int
    capacity: float | None
    lowest_breaking: float | None
    converged: bool
    stop_reason: str
    elapsed_s: float
    probes: list[Probe] = field(default_factory=list)
    capacity_csv: Path | None = None
    probes_csv: Path | None = None

    def describe(self) -> str:
        """`max concurrency under SLO: 16 (converged, 9 probes, 31 s)`."""
        unit = {"rate": "rate (req/s)"}.get(self.over, self.over.replace("_", " "))
        answer = "none" if self.capacity is None else f"{self.capacity:g}"
        return (
            f"max {unit} under SLO: {answer} ({self.stop_reason}, "
            f"{len(self.probes)} probes, {self.elapsed_s:.0f} s)"
        )


def verdict(outcome: PointOutcome, found: list[Breach]) -> str:
    """`harness-bound`, `server failing`, `break` (a limit broken) or `pass`.

    A backlog alone (completions behind the schedule, yet every send on time and no receive
    lag) is what a server past its capacity looks like in open loop: with a limit broken it
    is the break being searched for, not a harness problem.
    """
    server_backlog = outcome.health.codes == ["completions-behind"]
    if outcome.health.harness_bound and not (server_backlog and found):
        return "harness-bound"
    if outcome.summary.successes == 0:
        return "server failing"
    return "break" if found else "pass"


def probe_row(
    target: RunTarget, over: str, slo: Slo, index: int, probe: Probe, elapsed_s: float
) -> dict[str, object]:
    """One `probes_*.csv` row (a search probe or a ladder step)."""
    summary = probe.outcome.summary
    row: dict[str, object] = {
        "Scenario": target.scenario,
        "Search_Over": over,
        "Input_Length": probe.outcome.point.input_length,
        "Output_Length": probe.outcome.point.output_length,
        "SLO_Hash": slo.digest(),
        "Probe": index,
        "Load": probe.load,
        "Verdict": probe.verdict,
        "Breaches": "; ".join(b.describe() for b in probe.breaches)
        + "".join(f"; {h}" for h in probe.outcome.health.reasons),
        "QPS": summary.qps,
        "Fail_Rate": summary.failure_ratio,
        "Elapsed(s)": round(elapsed_s, 3),
    }
    for limit in slo.limits():
        row[limit.key] = measured(summary, limit, probe.outcome.good_requests)
    return row


def capacity_row(
    target: RunTarget, backend: str, resolution: float | None, slo: Slo, result: SearchOutcome
) -> CapacityRow:
    """The `capacity_*.csv` row of a finished search or ladder."""
    return CapacityRow(
        scenario=target.scenario,
        model=target.model,
        provider=target.provider,
        backend=backend,
        search_over=result.over,
        input_length=result.input_length,
        output_length=result.output_length,
        slo=slo.describe(),
        slo_hash=slo.digest(),
        capacity=result.capacity,
        lowest_breaking=result.lowest_breaking,
        resolution=resolution,
        converged=result.converged,
        stop_reason=result.stop_reason,
        probes=len(result.probes),
        elapsed_s=round(result.elapsed_s, 3),
        execution_time=time.strftime("%Y-%m-%d %H:%M:%S"),
    )


def run_search(
    target: RunTarget,
    profile: PerfProfile,
    input_length: int,
    output_length: int,
    writer: ScenarioWriter,
    report: Report | None = None,
) -> SearchOutcome:
    """Search the largest load of one shape that keeps `profile.slo`; write its CSV rows.

    Every probe appends its load point to the perf summary CSV (control method `search`) and its
    verdict to `probes_*.csv` as soon as it ends; the answer goes to `capacity_*.csv`.
    """
    settings, slo = profile.search, profile.slo
    if settings is None or slo is None:
        raise ValueError("run_search needs a profile with 'search' and 'slo'")
    perf_dir = writer.perf_dir
    perf_dir.mkdir(parents=True, exist_ok=True)
    probes_csv = probes_path(perf_dir, target.provider)
    bisection = Bisection(settings)
    probes: list[Probe] = []
    started = time.monotonic()
    while True:
        load = bisection.next_load()
        if load is None:
            break
        if len(probes) >= settings.max_probes:
            bisection.stop(f"probe budget spent ({settings.max_probes} probes)")
            break
        elapsed = time.monotonic() - started
        if elapsed >= settings.time_budget_seconds:
            bisection.stop(
                f"time budget spent ({elapsed:.0f} s >= {settings.time_budget_seconds:g} s)"
            )
            break
        point = profile.search_point(input_length, output_length, load)
        outcome = run_point(target, profile, point, writer, report, salt=f"probe-{len(probes)}")
        found = breaches(outcome.summary, slo, outcome.good_requests)
        probe = Probe(load, verdict(outcome, found), tuple(found), outcome)
        probes.append(probe)
        append_probe(
            probes_csv,
            probe_row(target, settings.over, slo, len(probes), probe, time.monotonic() - started),
        )
        if report is not None:
            detail = "; ".join(b.describe() for b in found) or "all limits kept"
            report(f"search probe {len(probes)} {point.id}: {probe.verdict} ({detail})")
        if probe.verdict == "harness-bound":
            bisection.stop(f"harness-bound at {load:g}: {outcome.health.reasons[0]}")
        elif probe.verdict == "server failing":
            errors = ", ".join(f"{k} x{n}" for k, n in sorted(outcome.summary.errors.items()))
            bisection.stop(f"server failing at {load:g}: every request failed ({errors})")
        else:
            bisection.record(load, probe.verdict == "pass")
    result = SearchOutcome(
        over=settings.over,
        input_length=input_length,
        output_length=output_length,
        capacity=bisection.lower,
        lowest_breaking=bisection.upper,
        converged=bisection.converged,
        stop_reason=bisection.stop_reason or "converged",
        elapsed_s=time.monotonic() - started,
        probes=probes,
        probes_csv=probes_csv,
    )
    result.capacity_csv = capacity_path(perf_dir, target.provider)
    append_capacity(
        result.capacity_csv, capacity_row(target, profile.backend, settings.resolution, slo, result)
    )
    return result
