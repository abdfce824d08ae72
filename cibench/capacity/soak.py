"""Run a soak: steady load for a duration, measured in windows (each a normal load point, on
disk as soon as it ends), with a drift verdict rewritten to `soak_*.csv` after every window."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cibench.artifacts import ScenarioWriter
from cibench.artifacts.capacity import SoakRow
from cibench.artifacts.codec import write_cells
from cibench.capacity.drift import Drift, detect_drift
from cibench.config.perf import PerfProfile
from cibench.monitor.series import point_stats
from cibench.perf.runner import PointOutcome, RunTarget, run_point

__all__ = ["SoakOutcome", "run_soak", "window_metrics"]

Report = Callable[[str], None]


@dataclass(slots=True)
class SoakOutcome:
    """The windows measured and the drift found."""

    windows: list[PointOutcome] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    elapsed_s: float = 0.0
    soak_csv: Path | None = None

    @property
    def drifted(self) -> list[Drift]:
        """The metrics that drifted."""
        return [d for d in self.drifts if d.drifted]

    def verdict(self) -> str:
        """`stable over 4 windows (...)` or `drift over 4 windows: tpot_p50_s +85% (...); ...`."""
        count = f"{len(self.windows)} windows, {self.elapsed_s:.0f} s"
        if self.drifted:
            return f"drift over {count}: " + "; ".join(d.describe() for d in self.drifted)
        return f"stable over {count}"


def window_metrics(outcome: PointOutcome) -> dict[str, float | None]:
    """The drift metrics of one window."""
    summary = outcome.summary

    def pct(name: str, q: float) -> float | None:
        dist = getattr(summary, name)
        return dist.at(q) if dist is not None else None

    memory = None
    if outcome.resources:
        found = point_stats(outcome.resources).get("server_memory_bytes")
        memory = found[1] if found else None
    return {
        "ttft_p50_s": pct("ttft", 50.0),
        "ttft_p99_s": pct("ttft", 99.0),
        "tpot_p50_s": pct("tpot", 50.0),
        "tpot_p99_s": pct("tpot", 99.0),
        "e2e_p50_s": pct("e2e", 50.0),
        "e2e_p99_s": pct("e2e", 99.0),
        "output_throughput": summary.output_throughput,
        "failure_ratio": summary.failure_ratio,
        "server_memory_bytes": memory,
    }


def _write(path: Path, result: SoakOutcome) -> None:
    verdict = "drift" if result.drifted else "stable"
    rows = [
        SoakRow(
            metric=d.metric,
            first=d.first,
            last=d.last,
            change=d.change,
            trend=d.trend,
            drift=d.drifted,
            windows=len(result.windows),
            verdict=verdict,
        )
        for d in result.drifts
    ]
    write_cells(path, SoakRow.header(), [row.to_cells() for row in rows])


def run_soak(
    target: RunTarget,
    profile: PerfProfile,
    input_length: int,
    output_length: int,
    writer: ScenarioWriter,
    report: Report | None = None,
) -> SoakOutcome:
    """Run windows until `soak.duration_seconds` has passed; judge drift after each one."""
    soak = profile.soak
    if soak is None:
        raise ValueError("run_soak needs a profile with 'soak'")
    perf_dir = writer.perf_dir
    perf_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H_%M_%S")
    result = SoakOutcome(soak_csv=perf_dir / f"soak_{target.provider}_{stamp}.csv")
    metrics: list[dict[str, float | None]] = []
    started = time.monotonic()
    while time.monotonic() - started < soak.duration_seconds:
        point = profile.soak_point(input_length, output_length)
        outcome = run_point(
            target, profile, point, writer, report, salt=f"soak-window-{len(result.windows)}"
        )
        result.windows.append(outcome)
        metrics.append(window_metrics(outcome))
        result.drifts = detect_drift(metrics, soak.drift_threshold, soak.failure_ratio_drift)
        result.elapsed_s = time.monotonic() - started
        _write(result.soak_csv or perf_dir / "soak.csv", result)
        if report is not None:
            report(
                f"soak window {len(result.windows)} ({result.elapsed_s:.0f} s): {result.verdict()}"
            )
    return result
