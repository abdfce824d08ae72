"""Per-request samples behind a perf load point, read from its `requests_*.csv`.

The acs-bench file name carries control method, concurrency, backend and lengths, so a load
point's requests file is found by name when exactly one file fits (Poisson points at several
rates share a name: they get no samples, and their gates compare point estimates). A missing
or unreadable file means no samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cibench.artifacts import (
    LoadPointKey,
    PerfRequestRow,
    PerfSummaryRow,
    RunResults,
    read_requests,
)
from cibench.errors import CibenchError
from cibench.gates.interval import Floats, ThroughputSample, as_floats


@dataclass(frozen=True, slots=True)
class PointSamples:
    """The successful requests' latencies and every request's time in flight and success."""

    ttft_s: Floats
    e2e_s: Floats
    throughput: ThroughputSample
    files: tuple[str, ...]

    @property
    def count(self) -> int:
        """Successful requests with a latency: what a latency percentile rests on."""
        return int(min(self.ttft_s.size, self.e2e_s.size))


def samples_from_rows(rows: Iterable[PerfRequestRow], files: tuple[str, ...]) -> PointSamples:
    """Samples from requests rows (pure): failed requests count for throughput only."""
    ttft: list[float] = []
    e2e: list[float] = []
    durations: list[float] = []
    successes: list[float] = []
    for row in rows:
        ok = bool(row.success)
        if row.total_time_s is not None:
            durations.append(row.total_time_s)
            successes.append(1.0 if ok else 0.0)
        if not ok:
            continue
        if row.ttft_s is not None:
            ttft.append(row.ttft_s)
        if row.e2e_s is not None:
            e2e.append(row.e2e_s)
    return PointSamples(
        ttft_s=as_floats(ttft),
        e2e_s=as_floats(e2e),
        throughput=ThroughputSample(as_floats(durations), np.asarray(successes, dtype=np.float64)),
        files=files,
    )


def _name_matches(name: str, key: LoadPointKey) -> bool:
    parts = (
        f"_{key.control_method}_concurrency{key.concurrency}_{key.backend}"
        f"_input{key.input_len}_output{key.output_len}_"
    )
    return name.startswith("requests_") and parts in name


def requests_files(perf_dir: Path, point: PerfSummaryRow) -> list[Path]:
    """The requests file of `point` in `perf_dir` when exactly one file name fits."""
    files = sorted(perf_dir.glob("requests_*.csv"))
    matches = [path for path in files if _name_matches(path.name, point.key)]
    return matches if len(matches) == 1 else []


def load_point_samples(perf_dir: Path, point: PerfSummaryRow) -> PointSamples | None:
    """The point's samples, or None without one readable requests file."""
    found = requests_files(perf_dir, point)
    if not found:
        return None
    try:
        rows = read_requests(found[0])
    except (OSError, ValueError, CibenchError):
        return None
    if not rows:
        return None
    return samples_from_rows(rows, (found[0].name,))


def load_run_samples(run: RunResults) -> dict[tuple[str, LoadPointKey], PointSamples]:
    """Samples of every perf point of every scenario of `run` that has a requests file."""
    found: dict[tuple[str, LoadPointKey], PointSamples] = {}
    for results in run.scenarios:
        perf_dir = run.run_dir / results.scenario / "perf"
        for point in results.perf:
            samples = load_point_samples(perf_dir, point)
            if samples is not None:
                found[(results.scenario, point.key)] = samples
    return found
