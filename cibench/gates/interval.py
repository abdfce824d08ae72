"""Bootstrap confidence intervals for a candidate/baseline ratio (pure numpy, seeded).

A gate compares one statistic of two noisy samples: the P99 of per-request latencies, or the
throughput of a load point. One run's P99 from a hundred requests moves by tens of percent
between identical runs, so the gate asks how sure the ratio is before it fails anything. The
interval is a percentile bootstrap: both runs' requests are resampled with replacement
`resamples` times (vectorised as one index matrix per run), the statistic is recomputed on every
replicate, and the central `confidence` share of the replicate ratios is the interval. A baseline
without per-request records (a Pushgateway quantile) is held fixed; only the candidate is
resampled. When both runs sent the same prompts, request for request (the blocks of an
interleaved confirmation), the pairs are resampled together (`paired`): a prompt that is slow on
one server is slow on the other, and resampling it on one side only would count the prompts'
spread as if it were the servers'. See docs/metrics.md for the reasoning and its limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Decision = Literal["pass", "fail", "inconclusive"]

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.90
MAX_REPLICATE_CELLS = 4_000_000
"""Resampled values held at once (resamples x requests); larger runs are done in slices."""


@dataclass(frozen=True, slots=True)
class RatioInterval:
    """candidate/baseline: the point estimate and a two-sided confidence interval."""

    ratio: float
    low: float
    high: float
    confidence: float
    candidate_samples: int
    baseline_samples: int | None
    """None when the baseline was a fixed number (no per-request records)."""


@dataclass(frozen=True, slots=True)
class ThroughputSample:
    """What a load point's throughput rests on: each request's time in flight and success."""

    durations_s: Floats
    successes: Floats
    """1.0 for a successful request, 0.0 for a failed one."""


def as_floats(values: object) -> Floats:
    """A 1-d float array without NaN/inf (cells that were `-1`/empty are dropped upstream)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def _indices(rng: np.random.Generator, n: int, resamples: int) -> list[npt.NDArray[np.intp]]:
    """Row blocks of a (resamples x n) index matrix, sliced to bound memory."""
    rows = max(1, MAX_REPLICATE_CELLS // max(n, 1))
    blocks = []
    for start in range(0, resamples, rows):
        blocks.append(rng.integers(0, n, size=(min(rows, resamples - start), n)))
    return blocks


def bootstrap_percentile(
    values: Floats,
    q: float,
    resamples: int,
    rng: np.random.Generator,
    blocks: list[npt.NDArray[np.intp]] | None = None,
) -> Floats:
    """The q-th percentile (0-100, linear interpolation as in the perf summary) of `resamples`
    bootstrap replicates of `values`. `blocks`: the resampling indices to use (shared with a
    paired sample), else drawn here."""
    chosen = blocks if blocks is not None else _indices(rng, values.size, resamples)
    return np.concatenate([np.percentile(values[idx], q, axis=1) for idx in chosen])


def throughput_estimate(sample: ThroughputSample) -> float:
    """Successful requests per second of busy time per stream (Little's law with the number of
    streams held equal, which it is for one load point in two runs)."""
    busy = float(np.mean(sample.durations_s))
    return float(np.mean(sample.successes)) / busy if busy > 0 else 0.0


def bootstrap_throughput(
    sample: ThroughputSample,
    resamples: int,
    rng: np.random.Generator,
    *,
    open_loop: bool,
    blocks: list[npt.NDArray[np.intp]] | None = None,
) -> Floats:
    """Bootstrap replicates of `throughput_estimate` (closed loop) or of the success share
    (open loop, where the arrival schedule, not the latency, sets the rate). `blocks`: the
    resampling indices to use (shared with a paired sample), else drawn here."""
    parts = []
    for idx in blocks if blocks is not None else _indices(rng, sample.successes.size, resamples):
        share = np.mean(sample.successes[idx], axis=1)
        if open_loop:
            parts.append(share)
        else:
            busy = np.mean(sample.durations_s[idx], axis=1)
            parts.append(np.divide(share, busy, out=np.zeros_like(share), where=busy > 0))
    return np.concatenate(parts)


def _interval(
    ratios: Floats,
    point: float,
    confidence: float,
    candidate_n: int,
    baseline_n: int | None,
) -> RatioInterval:
    tail = (1.0 - confidence) / 2.0
    finite = ratios[np.isfinite(ratios)]
    if finite.size == 0:
        return RatioInterval(point, point, point, confidence, candidate_n, baseline_n)
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    # the percentile interval of a skewed statistic may leave out the point estimate itself
    return RatioInterval(
        point,
        float(min(low, point)),
        float(max(high, point)),
        confidence,
        candidate_n,
        baseline_n,
    )


def _pairs(paired: bool, candidate: Floats, baseline: Floats) -> bool:
    """Whether to resample the two sides as pairs: asked for, and one value per pair each."""
    return paired and candidate.size == baseline.size


def percentile_ratio(
    candidate: Floats,
    baseline: Floats | float,
    q: float,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    paired: bool = False,
) -> RatioInterval | None:
    """P_q(candidate) / P_q(baseline) with its bootstrap interval; `baseline` is either the
    baseline's per-request values or a fixed number. None when either side has no data.
    `paired`: value i of both sides is the same prompt (equal sizes), resampled together."""
    if candidate.size == 0:
        return None
    rng = np.random.default_rng(seed)
    cand_point = float(np.percentile(candidate, q))
    if isinstance(baseline, float):
        if baseline <= 0:
            return None
        ratios = bootstrap_percentile(candidate, q, resamples, rng) / baseline
        return _interval(ratios, cand_point / baseline, confidence, candidate.size, None)
    if baseline.size == 0:
        return None
    base_point = float(np.percentile(baseline, q))
    if base_point <= 0:
        return None
    shared = (
        _indices(rng, candidate.size, resamples) if _pairs(paired, candidate, baseline) else None
    )
    cand_reps = bootstrap_percentile(candidate, q, resamples, rng, shared)
    base_reps = bootstrap_percentile(baseline, q, resamples, rng, shared)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cand_reps / base_reps
    return _interval(ratios, cand_point / base_point, confidence, candidate.size, baseline.size)


def throughput_ratio(
    candidate: ThroughputSample,
    baseline: ThroughputSample | None,
    measured_ratio: float,
    *,
    open_loop: bool,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    paired: bool = False,
) -> RatioInterval | None:
    """An interval for the measured QPS ratio: the bootstrap spread of the per-request
    throughput estimate, scaled so that it is centred on `measured_ratio` (the ratio of the
    summaries' QPS, which is what the gate reports). `baseline` None = held fixed; `paired`:
    request i of both sides is the same prompt (equal sizes), resampled together."""
    if candidate.successes.size == 0 or measured_ratio <= 0:
        return None
    rng = np.random.default_rng(seed)

    def estimate(sample: ThroughputSample) -> float:
        return float(np.mean(sample.successes)) if open_loop else throughput_estimate(sample)

    shared = None
    if baseline is not None and _pairs(paired, candidate.successes, baseline.successes):
        shared = _indices(rng, candidate.successes.size, resamples)
    cand_reps = bootstrap_throughput(candidate, resamples, rng, open_loop=open_loop, blocks=shared)
    cand_point = estimate(candidate)
    if cand_point <= 0:
        return None
    if baseline is None or baseline.successes.size == 0:
        relative = cand_reps / cand_point
        return _interval(
            relative * measured_ratio, measured_ratio, confidence, candidate.successes.size, None
        )
    base_reps = bootstrap_throughput(baseline, resamples, rng, open_loop=open_loop, blocks=shared)
    base_point = estimate(baseline)
    if base_point <= 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (cand_reps / base_reps) / (cand_point / base_point)
    return _interval(
        relative * measured_ratio,
        measured_ratio,
        confidence,
        candidate.successes.size,
        baseline.successes.size,
    )


def decide(interval: RatioInterval, margin: float, *, higher_is_worse: bool) -> Decision:
    """FAIL when the whole interval is past the margin, PASS when it lies inside, else
    INCONCLUSIVE. `margin` is relative: 0.10 lets a latency rise 10 % / a throughput fall 10 %."""
    slack = 1e-9  # 0.55/0.5 is 1.1000000000000001: on the limit counts as inside
    if higher_is_worse:
        limit = 1.0 + margin
        if interval.low > limit + slack:
            return "fail"
        return "pass" if interval.high <= limit + slack else "inconclusive"
    limit = 1.0 - margin
    if interval.high < limit - slack:
        return "fail"
    return "pass" if interval.low >= limit - slack else "inconclusive"


def robust_spread(values: Floats) -> float | None:
    """Day-to-day relative spread of a metric: 1.4826 x the median absolute deviation of the
    log values (a standard deviation for normal noise, unmoved by one bad night). None for
    fewer than three values."""
    positive = values[values > 0]
    if positive.size < 3:
        return None
    logs = np.log(positive)
    mad = float(np.median(np.abs(logs - np.median(logs))))
    return float(np.expm1(1.4826 * mad))
