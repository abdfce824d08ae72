"""Per-request samples behind a perf load point, read from its `requests_*.csv`.

The acs-bench file name carries control method, concurrency, backend and lengths, so a load
point's requests file is found by name when exactly one file fits (Poisson points at several
rates share a name: they get no samples, and their gates compare point estimates). A missing
or unreadable file means no samples. A PR run's confirmation re-measurement of the point
(`<scenario>/confirm/<point>/perf/`, `cibench.gates.confirm`; one directory per point, so that
the rate tells Poisson points apart there) is pooled with the first measurement. An interleaved
confirmation (`<scenario>/confirm/<point>/block-N/perf/` and `confirm-baseline/<point>/block-N/`)
supersedes both sides' earlier measurements: its blocks saw the same moments of the machine.
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

BLOCK_PREFIX = "block-"
"""`<scenario>/confirm/<point>/block-N/`: block N of an interleaved confirmation (1-based)."""


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
    interleaved: bool = False
    """True when these are the blocks of an interleaved confirmation (and nothing else)."""
    keys: tuple[str, ...] = ()
    """Per request, in array order, `block:epoch:index` (which prompt it sent); set only when
    every request succeeded, so that all three arrays line up with it."""

    def paired_with(self, other: PointSamples | None) -> bool:
        """Whether request i here sent the same prompt as request i of `other`, for every i."""
        return other is not None and bool(self.keys) and self.keys == other.keys

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


def confirm_root(perf_dir: Path, key: LoadPointKey, which: str = CONFIRM_DIR) -> Path:
    """The directory a confirmation of the point `key` of `perf_dir` is recorded under (its
    `perf/`, or its blocks' `block-N/perf/`); `which`: `confirm` for the candidate,
    `confirm-baseline` for the baseline scenario."""
    return perf_dir.parent / which / key.slug()


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
    """The point's samples: an interleaved confirmation's candidate blocks alone, else its
    first measurement with any confirmation pooled; None without one readable requests file."""
    both = interleaved_samples(perf_dir, point)
    if both is not None:
        return both[0]
    found = requests_files(perf_dir, point)
    if not found:
        return None
    confirm, confirm_qps = _confirmations(confirm_root(perf_dir, point.key) / PERF_DIR, point)
    return _samples(found + confirm, confirm_qps, bool(confirm))


def _blocks(root: Path, point: PerfSummaryRow) -> dict[int, tuple[Path, list[float]]]:
    """The point's requests file and summary QPS in each `root/block-N/perf/`, by N."""
    found: dict[int, tuple[Path, list[float]]] = {}
    for block in root.glob(f"{BLOCK_PREFIX}*"):
        number = block.name.removeprefix(BLOCK_PREFIX)
        files, qps = _confirmations(block / PERF_DIR, point)
        if number.isdigit() and len(files) == 1 and qps:
            found[int(number)] = (files[0], qps)
    return found


def balanced_blocks(candidate: Iterable[int], baseline: Iterable[int]) -> list[int]:
    """The blocks that count (pure): 1, 2, ... while both builds measured them, cut to an even
    number, so that every ABBA pair is whole (a lone block ran the baseline first, which a
    machine drifting over the confirmation would favour or penalise)."""
    both = set(candidate) & set(baseline)
    count = 0
    while count + 1 in both:
        count += 1
    return list(range(1, count - count % 2 + 1))


def _block_samples(blocks: list[tuple[int, Path, list[float]]]) -> PointSamples | None:
    """One side of an interleaved confirmation: its blocks' requests in (block, epoch, index)
    order, with pairing keys when every request succeeded."""
    rows: list[tuple[tuple[int, int, int], PerfRequestRow]] = []
    try:
        for number, path, _ in blocks:
            rows += [((number, r.epoch or 0, r.request_index or 0), r) for r in read_requests(path)]
    except (OSError, ValueError, CibenchError):
        return None
    if not rows:
        return None
    rows.sort(key=lambda pair: pair[0])
    ordered = [row for _, row in rows]
    samples = samples_from_rows(ordered, tuple(path.name for _, path, _ in blocks))
    complete = all(
        r.success and r.ttft_s is not None and r.e2e_s is not None and r.total_time_s is not None
        for r in ordered
    )
    keys = tuple(f"{b}:{e}:{i}" for (b, e, i), _ in rows) if complete else ()
    qps = tuple(value for _, _, values in blocks for value in values)
    return replace(samples, confirm_qps=qps, confirmed=True, interleaved=True, keys=keys)


def interleaved_samples(
    perf_dir: Path, point: PerfSummaryRow
) -> tuple[PointSamples, PointSamples] | None:
    """(candidate, baseline) of the point's interleaved confirmation: the blocks measured on
    both sides, or None when there was none or a baseline request failed."""
    candidate = _blocks(confirm_root(perf_dir, point.key), point)
    baseline = _blocks(confirm_root(perf_dir, point.key, CONFIRM_BASELINE_DIR), point)
    common = balanced_blocks(candidate, baseline)
    if not common:
        return None
    cand = _block_samples([(n, *candidate[n]) for n in common])
    base = _block_samples([(n, *baseline[n]) for n in common])
    if cand is None or base is None or not np.all(base.throughput.successes == 1.0):
        # a baseline build that failed requests (it died, say) would flatter the candidate:
        # then the first measurement against the recorded baseline decides, as before
        return None
    return cand, base


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
