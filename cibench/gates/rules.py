"""The gates as pure rules: run results, a baseline and thresholds in, ordered verdicts out.

Order (SPEC §8): completeness (server started, every expected stage left results, perf failure
ratio, token mismatches), functional failures, accuracy below threshold, then regressions
against the baseline for the same scenario and load point (TTFT P99, E2E P99, QPS).
A value that is missing gives `no data`, a missing baseline gives `no baseline`: neither passes.
A regression gate decides on the bootstrap interval of the candidate/baseline ratio
(`cibench.gates.interval`): FAIL when all of it is past the margin, PASS when all of it is
inside, `inconclusive` otherwise; a harness-bound point's regression gates are `excluded`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from cibench.artifacts import (
    CapacityKey,
    LoadPointKey,
    PerfSummaryRow,
    RunResults,
    ScenarioResults,
    VerdictRecord,
)
from cibench.config.settings import GateThresholds
from cibench.failures.reasons import parse_reasons
from cibench.gates.interval import (
    Floats,
    RatioInterval,
    decide,
    percentile_ratio,
    throughput_ratio,
)
from cibench.gates.samples import PointSamples

Status = Literal["pass", "fail", "inconclusive", "excluded", "no data", "no baseline", "skipped"]
"""`inconclusive`: the interval straddles the margin; `excluded`: the point cannot be trusted
(harness-bound); `skipped`: functional cases that did not run. None of them fails a run."""
STATUSES: tuple[Status, ...] = get_args(Status)

GATE_ORDER = (
    "completeness",
    "failure_ratio",
    "token_mismatch",
    "functional",
    "functional_skips",
    "accuracy",
    "ttft_p99",
    "e2e_p99",
    "qps",
    "capacity",
)
"""Every gate name, in the order gates are evaluated and reported."""

CAPACITY_METHODS = frozenset({"search", "ladder"})
"""Control methods whose points are judged by an SLO and gated through their answer."""
ROUNDING_SLACK = 1e-9
"""Ratios within this of a limit count as on it (0.55/0.5 - 1 is 0.10000000000000009)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One gate's finding for one scenario (and load point, suite or dataset)."""

    gate: str
    stage: str
    scenario: str
    subject: str
    metric: str
    current: float | None
    baseline: float | None = None
    threshold: float | None = None
    status: Status = "pass"
    detail: str = ""
    low: float | None = None
    """Lower end of the confidence interval of `delta` (regression gates with records)."""
    high: float | None = None
    samples: int | None = None
    """Successful requests of the candidate the regression verdict rests on."""
    margin_note: str = ""
    """Which margin applied."""
    low_confidence: bool = False
    """Fewer samples than `gates.min_samples` asks for the gated percentile."""

    @property
    def failed(self) -> bool:
        """True when the gate tripped (`no data` / `no baseline` / `skipped` are not failures)."""
        return self.status == "fail"

    @property
    def delta(self) -> float | None:
        """Relative change against the baseline (`0.12` = +12%), or None without one."""
        if self.current is None or self.baseline is None or self.baseline == 0:
            return None
        return self.current / self.baseline - 1.0

    def to_record(self) -> VerdictRecord:
        """The verdict as `gates.json` stores it."""
        return VerdictRecord(
            gate=self.gate,
            stage=self.stage,
            scenario=self.scenario,
            load_point=self.subject if self.stage == "perf" else None,
            subject=self.subject,
            metric=self.metric,
            baseline=self.baseline,
            current=self.current,
            delta=self.delta,
            threshold=self.threshold,
            interval=[self.low, self.high]
            if self.low is not None and self.high is not None
            else None,
            samples=self.samples,
            margin_source=self.margin_note or None,
            low_confidence=self.low_confidence,
            verdict=self.status,
            detail=self.detail,
        )

    @classmethod
    def from_record(cls, record: VerdictRecord) -> Verdict:
        """A verdict read back from `gates.json` (an unknown status reads as `no data`)."""
        status = record.verdict if record.verdict in STATUSES else "no data"
        return cls(
            gate=record.gate,
            stage=record.stage,
            scenario=record.scenario,
            subject=record.subject,
            metric=record.metric,
            current=record.current,
            baseline=record.baseline,
            threshold=record.threshold,
            status=status,
            detail=record.detail,
            low=record.interval[0] if record.interval else None,
            high=record.interval[1] if record.interval else None,
            samples=record.samples,
            margin_note=record.margin_source or "",
            low_confidence=record.low_confidence,
        )


@dataclass(frozen=True, slots=True)
class BaselinePoint:
    """The baseline's numbers for one scenario and load point (None = not available)."""

    ttft_p99_s: float | None
    e2e_p99_s: float | None
    qps: float | None
    samples: PointSamples | None = field(default=None, compare=False)
    """The baseline run's per-request records (None: a Pushgateway holds only quantiles)."""
    spread: Mapping[str, float] = field(default_factory=dict, compare=False)
    """Relative day-to-day spread per regression gate, from previous daily runs."""
    history_runs: int = 0
    """How many daily runs `spread` rests on."""

    def value(self, gate: str) -> float | None:
        """The baseline number a regression gate compares with."""
        return {"ttft_p99": self.ttft_p99_s, "e2e_p99": self.e2e_p99_s, "qps": self.qps}.get(gate)


@dataclass(slots=True)
class Baseline:
    """Baseline numbers by (scenario, load point), with a description of where they came from."""

    source: str
    points: dict[tuple[str, LoadPointKey], BaselinePoint] = field(default_factory=dict)
    functional_passed: dict[str, frozenset[str]] = field(default_factory=dict)
    """Per scenario, the `suite::case_id` of every functional case that passed in the baseline."""
    capacity: dict[tuple[str, CapacityKey], float] = field(default_factory=dict)
    """SLO-search answers by (scenario, search)."""

    def lookup(self, scenario: str, key: LoadPointKey) -> BaselinePoint | None:
        """The baseline for one scenario and load point, or None when it has none."""
        return self.points.get((scenario, key))


def baseline_point(point: PerfSummaryRow, samples: PointSamples | None = None) -> BaselinePoint:
    """What a perf summary row (and its per-request records) contributes to a baseline."""
    return BaselinePoint(
        ttft_p99_s=point.ttft.p99, e2e_p99_s=point.e2e.p99, qps=point.qps, samples=samples
    )


def token_mismatch_ratio(point: PerfSummaryRow) -> float | None:
    """Successful requests whose completion tokens differed from the asked output length, over
    successful requests (the perf stage counts mismatches among successes only)."""
    mismatches, successes = point.token_mismatch, point.successes
    if mismatches is None or not successes:
        return None
    return mismatches / successes


def _upper_bound(
    gate: str,
    stage: str,
    scenario: str,
    subject: str,
    metric: str,
    current: float | None,
    limit: float,
) -> Verdict:
    """`current <= limit` passes; None is `no data`."""
    if current is None:
        return Verdict(gate, stage, scenario, subject, metric, None, None, limit, "no data")
    status: Status = "fail" if current > limit + ROUNDING_SLACK else "pass"
    return Verdict(gate, stage, scenario, subject, metric, current, None, limit, status)


def failure_detail(point: PerfSummaryRow) -> str:
    """`top reasons: http_500 x12, timeout_stall x3; server log: cuda_oom=2 (...)`."""
    parts = []
    reasons = parse_reasons(point.failure_reasons or "")
    if reasons:
        top = list(reasons.items())[:3]
        parts.append("top reasons: " + ", ".join(f"{reason} x{n}" for reason, n in top))
    if point.server_log_matches:
        parts.append(f"server log: {point.server_log_matches}")
    return "; ".join(parts)[:400]


def completeness(results: ScenarioResults, thresholds: GateThresholds) -> list[Verdict]:
    """Did the server start, did every expected stage leave results, were requests healthy."""
    scenario = results.scenario
    verdicts: list[Verdict] = []
    if results.launch_error is not None:
        lines = results.launch_error.strip().splitlines() or ["launch failed"]
        verdicts.append(
            Verdict(
                "completeness",
                "server",
                scenario,
                "",
                "server started",
                0.0,
                status="fail",
                detail=lines[0][:200],
            )
        )
    for stage in results.expected_stages:
        has = results.has_results(stage)
        verdicts.append(
            Verdict(
                "completeness",
                stage,
                scenario,
                "",
                "stage results",
                1.0 if has else 0.0,
                status="pass" if has else "fail",
                detail="" if has else f"{stage} was expected but left no results",
            )
        )
    for point in results.perf:
        subject = point.key.describe()
        if point.key.control_method not in CAPACITY_METHODS:  # past capacity, failing is the point
            verdict = _upper_bound(
                "failure_ratio",
                "perf",
                scenario,
                subject,
                "failure ratio",
                point.fail_rate,
                thresholds.max_failure_ratio,
            )
            if verdict.failed:
                verdict = replace(verdict, detail=failure_detail(point))
            verdicts.append(verdict)
        verdicts.append(
            _upper_bound(
                "token_mismatch",
                "perf",
                scenario,
                subject,
                "token mismatch ratio",
                token_mismatch_ratio(point),
                thresholds.max_token_mismatch_ratio,
            )
        )
    return verdicts


CAPABILITY_SUITE = "capabilities"
"""The functional suite whose rows are capabilities the baseline had and this run must keep."""
MAX_DETAIL_CHARS = 300


def _clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def functional(results: ScenarioResults) -> list[Verdict]:
    """One verdict per functional suite: any failed or errored case fails it.

    The `capabilities` suite (a capability the baseline had and the probe no longer finds)
    names each lost capability with its evidence, not just its id.
    """
    verdicts: list[Verdict] = []
    suites: dict[str, list[str]] = {}
    for case in results.functional:
        failed = suites.setdefault(case.suite, [])
        if case.failed:
            failed.append(
                f"{case.case_id}: {case.reason}" if case.suite == CAPABILITY_SUITE else case.case_id
            )
    for suite, failed in suites.items():
        detail = ", ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
        verdicts.append(
            Verdict(
                "functional",
                "functional",
                results.scenario,
                suite,
                "failed cases",
                float(len(failed)),
                None,
                0.0,
                "fail" if failed else "pass",
                _clip(detail),
            )
        )
    return verdicts


def skip_kind(reason: str) -> str:
    """A skip reason without its evidence and hint, so that skips can be counted by kind:
    "capability 'logprobs' unsupported (probe: ...); set ..." -> "capability 'logprobs'
    unsupported"."""
    kind = reason.strip().split(" (", 1)[0].split(";", 1)[0].split(": ", 1)[0].strip()
    return kind or "no reason given"


def skip_counts(results: ScenarioResults) -> dict[str, int]:
    """How many functional cases were skipped, by `skip_kind`, most frequent first."""
    counts: dict[str, int] = {}
    for case in results.functional:
        if case.skipped:
            kind = skip_kind(case.reason)
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def functional_skips(results: ScenarioResults, baseline: Baseline | None) -> list[Verdict]:
    """One verdict per scenario that ran functional cases: how many were skipped and why, and
    which of them passed in the baseline ("newly skipped"), so that "0 failed" never hides
    cases that stopped running. Skips never fail a run (status `skipped`); a capability the
    baseline had and this run lacks fails its cases in the stage itself."""
    if not results.functional:
        return []
    counts = skip_counts(results)
    skipped = [case for case in results.functional if case.skipped]
    passed_before = baseline.functional_passed.get(results.scenario) if baseline else None
    parts: list[str] = []
    if passed_before:
        ids = [f"{case.suite}::{case.case_id}" for case in skipped]
        newly = [case_id for case_id in ids if case_id in passed_before]
        if newly:
            shown = ", ".join(newly[:5]) + (" …" if len(newly) > 5 else "")
            parts.append(f"{len(newly)} newly skipped (passed in the baseline): {shown}")
    parts += [f"{count}× {kind}" for kind, count in counts.items()]
    return [
        Verdict(
            "functional_skips",
            "functional",
            results.scenario,
            "",
            "skipped cases",
            float(len(skipped)),
            None,
            None,
            "skipped" if skipped else "pass",
            _clip("; ".join(parts)),
        )
    ]


def accuracy(results: ScenarioResults) -> list[Verdict]:
    """One verdict per accuracy row: a score below its threshold fails."""
    verdicts: list[Verdict] = []
    for row in results.accuracy:
        subject = f"{row.dataset}/{row.variant}" if row.variant else row.dataset
        if row.score is None:
            status: Status = "no data"
        elif row.threshold is not None:
            status = "fail" if row.score < row.threshold else "pass"
        elif row.passed is not None:
            status = "pass" if row.passed else "fail"
        else:
            status = "pass"
        verdicts.append(
            Verdict(
                "accuracy",
                "accuracy",
                results.scenario,
                subject,
                "score",
                row.score,
                None,
                row.threshold,
                status,
            )
        )
    return verdicts


HARNESS_BOUND_NOTE = "harness was the bottleneck: excluded, the point measured the client"


@dataclass(frozen=True, slots=True)
class RegressionGate:
    """One regression gate of a load point: which number, which way is worse."""

    gate: str
    metric: str
    higher_is_worse: bool
    percentile: float | None
    """The latency percentile the gate compares (None: throughput)."""

    def current(self, point: PerfSummaryRow) -> float | None:
        """The candidate's summary number for this gate."""
        if self.gate == "ttft_p99":
            return point.ttft.p99
        if self.gate == "e2e_p99":
            return point.e2e.p99
        return point.qps


REGRESSION_GATES = (
    RegressionGate("ttft_p99", "TTFT P99 (s)", True, 99.0),
    RegressionGate("e2e_p99", "E2E P99 (s)", True, 99.0),
    RegressionGate("qps", "QPS", False, None),
)


def configured_margin(gate: str, thresholds: GateThresholds) -> float:
    """The margin a regression gate allows."""
    margins = {
        "ttft_p99": thresholds.ttft_p99_increase,
        "e2e_p99": thresholds.e2e_p99_increase,
        "qps": thresholds.qps_decrease,
    }
    return margins[gate]


def effective_margin(
    configured: float, spread: float | None, k: float, history_runs: int
) -> tuple[float, str]:
    """max(configured, k x day-to-day spread), and a note saying which one applied."""
    if spread is None or k <= 0:
        return configured, f"margin {configured:.0%} (configured)"
    widened = k * spread
    if widened > configured:
        return widened, (
            f"margin {widened:.1%} (history: {k:g} x {spread:.1%} spread over "
            f"{history_runs} dailies > configured {configured:.0%})"
        )
    return configured, (
        f"margin {configured:.0%} (configured; history {k:g} x {spread:.1%} over "
        f"{history_runs} dailies is smaller)"
    )


def _seed(*parts: str) -> int:
    """A fixed seed per gate and load point: reruns give identical intervals."""
    return zlib.crc32("|".join(parts).encode())


def ratio_interval(
    spec: RegressionGate,
    current: float,
    baseline: float,
    candidate: PointSamples | None,
    reference: PointSamples | None,
    control_method: str,
    thresholds: GateThresholds,
    seed: int,
) -> RatioInterval | None:
    """The candidate/baseline interval of one gate, or None without candidate records."""
    if candidate is None:
        return None
    resamples, confidence = thresholds.bootstrap_resamples, thresholds.confidence
    paired = candidate.paired_with(reference)
    if spec.percentile is None:
        return throughput_ratio(
            candidate.throughput,
            reference.throughput if reference is not None else None,
            current / baseline,
            open_loop=control_method == "poisson",
            resamples=resamples,
            confidence=confidence,
            seed=seed,
            paired=paired,
        )
    values = candidate.ttft_s if spec.gate == "ttft_p99" else candidate.e2e_s
    base: Floats | float = float(baseline)
    if reference is not None:
        base = reference.ttft_s if spec.gate == "ttft_p99" else reference.e2e_s
    return percentile_ratio(
        values,
        base,
        spec.percentile,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        paired=paired,
    )


def _point_decision(change: float, margin: float, higher_is_worse: bool) -> Status:
    """Without records: the point estimate against the margin (no inconclusive zone)."""
    if higher_is_worse:
        return "fail" if change > margin + ROUNDING_SLACK else "pass"
    return "fail" if change < -margin - ROUNDING_SLACK else "pass"


def _low_confidence(
    spec: RegressionGate,
    candidate: PointSamples | None,
    reference: PointSamples | None,
    thresholds: GateThresholds,
) -> str:
    if spec.percentile is None:
        return ""
    need = thresholds.min_samples_for(spec.percentile)
    counts = [s.count for s in (candidate, reference) if s is not None]
    if not counts or min(counts) >= need:
        return ""
    return f"low confidence: {min(counts)} samples < {need} for P{spec.percentile:g}"


def regression_verdict(
    spec: RegressionGate,
    scenario: str,
    point: PerfSummaryRow,
    base: BaselinePoint,
    thresholds: GateThresholds,
    candidate: PointSamples | None,
) -> Verdict:
    """One regression gate of one load point: interval, margin, decision, notes."""
    subject = point.key.describe()
    current = spec.current(point)
    if current is not None and candidate and candidate.confirm_qps and spec.percentile is None:
        # a confirmed point's throughput: the mean of the measurement and its re-measurement
        # (of the blocks alone, after an interleaved confirmation)
        blocks = candidate.confirm_qps
        first = () if candidate.interleaved else (current,)
        current = sum((*first, *blocks)) / (len(first) + len(blocks))
    baseline = base.value(spec.gate)
    # Day-to-day spread widens a margin for a baseline measured days ago; blocks measured side
    # by side on both builds share their moment, so the configured margin is the one that fits.
    interleaved = candidate is not None and candidate.interleaved
    spread = base.spread.get(spec.gate)
    margin, margin_note = effective_margin(
        configured_margin(spec.gate, thresholds),
        None if interleaved else spread,
        thresholds.history_k,
        base.history_runs,
    )
    if interleaved and spread is not None:
        margin_note += "; no history widening: both builds were measured side by side"
    verdict = Verdict(spec.gate, "perf", scenario, subject, spec.metric, current, baseline, margin)
    verdict = replace(verdict, margin_note=margin_note)
    if baseline is None or baseline <= 0:
        detail = "" if baseline is None else "baseline is 0"
        return replace(verdict, status="no baseline", detail=detail)
    if current is None:
        return replace(verdict, status="no data")
    interval = ratio_interval(
        spec,
        current,
        baseline,
        candidate,
        base.samples,
        point.key.control_method,
        thresholds,
        _seed(scenario, subject, spec.gate),
    )
    notes: list[str] = []
    status: Status
    if interval is None:
        # no per-request records (an older run): the point estimate decides, as before
        status = _point_decision(current / baseline - 1.0, margin, spec.higher_is_worse)
    else:
        status = decide(interval, margin, higher_is_worse=spec.higher_is_worse)
        if candidate is not None and candidate.confirmed:
            # the pooled records' estimate, so that delta and interval describe the same data
            current = interval.ratio * baseline
        if candidate is not None and interleaved:
            paired = "paired by prompt" if candidate.paired_with(base.samples) else "unpaired"
            notes.append(
                f"decided on the interleaved re-measurement: {len(candidate.files)} blocks per "
                f"side, {paired}"
            )
        elif candidate is not None and candidate.confirmed:
            notes.append(f"re-measured: {len(candidate.files)} measurements pooled")
    weak = _low_confidence(spec, candidate, base.samples, thresholds)
    if weak:
        notes.append(weak)
    if point.harness_bottleneck:
        status = "excluded"
        notes.insert(0, HARNESS_BOUND_NOTE)
    return replace(
        verdict,
        current=current,
        status=status,
        detail="; ".join(notes),
        low=None if interval is None else interval.low - 1.0,
        high=None if interval is None else interval.high - 1.0,
        samples=candidate.count if candidate is not None else None,
        low_confidence=bool(weak),
    )


def regressions(
    results: ScenarioResults,
    baseline: Baseline | None,
    thresholds: GateThresholds,
    samples: Mapping[tuple[str, LoadPointKey], PointSamples] | None = None,
) -> list[Verdict]:
    """TTFT P99 and E2E P99 may not rise, QPS may not fall, beyond the margins (with intervals
    from the per-request `samples` of the run where available)."""
    verdicts: list[Verdict] = []
    for point in results.perf:
        if point.key.control_method in CAPACITY_METHODS:  # steps differ between runs: capacity()
            continue
        found = baseline.lookup(results.scenario, point.key) if baseline else None
        base = found or BaselinePoint(None, None, None)
        candidate = (samples or {}).get((results.scenario, point.key))
        verdicts += [
            regression_verdict(spec, results.scenario, point, base, thresholds, candidate)
            for spec in REGRESSION_GATES
        ]
    return verdicts


def capacity(
    results: ScenarioResults, baseline: Baseline | None, thresholds: GateThresholds
) -> list[Verdict]:
    """An SLO search's answer may not fall more than `capacity_decrease` below the baseline's.

    A search where no probe kept the SLO counts as capacity 0 against a baseline that had one.
    """
    verdicts: list[Verdict] = []
    for found in results.capacity:
        base = baseline.capacity.get((results.scenario, found.key)) if baseline else None
        current = found.capacity
        if current is None and base:
            current = 0.0
        metric = f"max {found.key.search_over.replace('_', ' ')} under SLO"
        subject = f"{found.key.describe()} ({found.slo})"
        margin = thresholds.capacity_decrease
        verdict = Verdict(
            "capacity", "perf", results.scenario, subject, metric, current, base, margin
        )
        if base is None or base <= 0:
            verdict = replace(
                verdict, status="no baseline", detail="" if base is None else "baseline is 0"
            )
        elif current is None:
            verdict = replace(verdict, status="no data")
        else:
            # one answer per run, no per-request records: the point estimate decides
            status = _point_decision(current / base - 1.0, margin, higher_is_worse=False)
            verdict = replace(verdict, status=status)
        if not found.converged and not verdict.detail:
            verdict = replace(verdict, detail=f"search stopped early: {found.stop_reason}")
        verdicts.append(verdict)
    return verdicts


def evaluate(
    current: RunResults,
    baseline: Baseline | None,
    thresholds: GateThresholds,
    samples: Mapping[tuple[str, LoadPointKey], PointSamples] | None = None,
) -> list[Verdict]:
    """Every gate for every scenario of the run, in gate order within each scenario.

    :param samples: the run's per-request samples by (scenario, load point); without them the
        regression gates compare point estimates only.
    """
    verdicts: list[Verdict] = []
    for results in current.scenarios:
        verdicts += completeness(results, thresholds)
        verdicts += functional(results)
        verdicts += functional_skips(results, baseline)
        verdicts += accuracy(results)
        verdicts += regressions(results, baseline, thresholds, samples)
        verdicts += capacity(results, baseline, thresholds)
    return verdicts


def gate_outcomes(verdicts: list[Verdict]) -> Mapping[tuple[str, str], bool]:
    """Per (scenario, gate): False if any verdict failed, True if any passed and none failed.

    Gates with only `no data` / `no baseline` verdicts are left out (they neither pass nor fail).
    """
    outcome: dict[tuple[str, str], bool] = {}
    for verdict in verdicts:
        key = (verdict.scenario, verdict.gate)
        if verdict.status == "fail":
            outcome[key] = False
        elif verdict.status == "pass":
            outcome.setdefault(key, True)
    return outcome
