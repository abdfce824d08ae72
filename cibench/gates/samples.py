"""Per-request samples behind a perf load point, read from its `requests_*.csv`.

The acs-bench file name carries control method, concurrency, backend and lengths, so a load
point's requests file is found by name when exactly one file fits (Poisson points at several
rates share a name: they get no samples, and their gates compare point estimates). A missing
or unreadable file means no samples. A PR run's confirmation re-measurement of the point
(`<scenario>/confirm/perf/`, `cibench.gates.confirm`) is pooled with the first measurement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cibench.artifacts import (
    LoadPointKey,
    PerfRequestRow,
    PerfSummaryRow,
    RunResults,
    read_requests,
    read_summary,
)
from cibench.artifacts.layout import CONFIRM_BASELINE_DIR, CONFIRM_DIR, PERF_DIR
from cibench.errors import CibenchError
from cibench.gates.interval import Floats, ThroughputSample, as_floats


@dataclass(frozen=True, slots=True)
class PointSamples:
    """The successful requests' latencies and every request's time in flight and success."""

    ttft_s: Floats
    e2e_s: Floats
    throughput: ThroughputSample
    files: tuple[str, ...]
    confirm_qps: tuple[float, ...] = ()
    """The QPS of each confirmation re-measurement pooled into these samples."""
    confirmed: bool = False
    """True when a confirmation re-measurement is part of these samples."""

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


def name_matches(name: str, key: LoadPointKey) -> bool:
    """Whether a `requests_*.csv` name is that of a load point with `key` (acs-bench naming)."""
    parts = (
        f"_{key.control_method}_concurrency{key.concurrency}_{key.backend}"
        f"_input{key.input_len}_output{key.output_len}_"
    )
    return name.startswith("requests_") and parts in name


def requests_files(perf_dir: Path, point: PerfSummaryRow) -> list[Path]:
    """The requests file of `point` in `perf_dir` when exactly one file name fits."""
    files = sorted(perf_dir.glob("requests_*.csv"))
    matches = [path for path in files if name_matches(path.name, point.key)]
    return matches if len(matches) == 1 else []


def confirm_dir(perf_dir: Path, which: str = CONFIRM_DIR) -> Path:
    """Where the confirmation re-measurements of the points in `perf_dir` are written
    (`which`: `confirm` for the candidate, `confirm-baseline` for the baseline scenario)."""
    return perf_dir.parent / which / PERF_DIR


def _confirmations(again: Path, point: PerfSummaryRow) -> tuple[list[Path], list[float]]:
    """Requests files and summary QPS of the point's re-measurements in `again`."""
    if not again.is_dir():
        return [], []
    files = requests_files(again, point)
    qps: list[float] = []
    for summary in sorted(again.glob("summary_*.csv")):
        try:
            rows = read_summary(summary)
        except (OSError, ValueError, CibenchError):
            continue
        qps += [row.qps for row in rows if row.key == point.key and row.qps is not None]
    return files, qps


def _samples(paths: list[Path], confirm_qps: list[float], confirmed: bool) -> PointSamples | None:
    rows: list[PerfRequestRow] = []
    try:
        for path in paths:
            rows += read_requests(path)
    except (OSError, ValueError, CibenchError):
        return None
    if not rows:
        return None
    samples = samples_from_rows(rows, tuple(path.name for path in paths))
    return replace(samples, confirm_qps=tuple(confirm_qps), confirmed=confirmed)


def load_point_samples(perf_dir: Path, point: PerfSummaryRow) -> PointSamples | None:
    """The point's samples (with any confirmation pooled), or None without one readable
    requests file."""
    found = requests_files(perf_dir, point)
    if not found:
        return None
    confirm, confirm_qps = _confirmations(confirm_dir(perf_dir), point)
    return _samples(found + confirm, confirm_qps, bool(confirm))


def remeasured_baseline(perf_dir: Path, point: PerfSummaryRow) -> PointSamples | None:
    """The point as measured on the baseline scenario by the confirm step (`confirm_qps`: its
    summary QPS), or None when it was not."""
    files, qps = _confirmations(confirm_dir(perf_dir, CONFIRM_BASELINE_DIR), point)
    return _samples(files, qps, True) if files else None


def pooled(first: PointSamples, second: PointSamples) -> PointSamples:
    """Both samples as one (pure)."""
    return PointSamples(
        ttft_s=np.concatenate([first.ttft_s, second.ttft_s]),
        e2e_s=np.concatenate([first.e2e_s, second.e2e_s]),
        throughput=ThroughputSample(
            np.concatenate([first.throughput.durations_s, second.throughput.durations_s]),
            np.concatenate([first.throughput.successes, second.throughput.successes]),
        ),
        files=first.files + second.files,
        confirm_qps=first.confirm_qps + second.confirm_qps,
        confirmed=True,
    )


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
