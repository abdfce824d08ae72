"""Confirm before failing: on a PR run, re-measure once a load point whose regression verdict is
not a clear PASS, before the post-session gates give the final verdict.

The perf stage calls `Confirmer.after_point` right after a load point was recorded. The point's
regression gates are evaluated against the baseline (loaded once per scenario and session);
when one is INCONCLUSIVE or FAIL and the session's confirmation budget allows, the point is
measured again into `<scenario>/confirm/<point>/perf/`. The post-session gates pool the records
of both measurements (`cibench.gates.samples`), which narrows the interval, and say so in the
verdict's detail. The baseline is recorded data (a previous run or a Pushgateway), measured at
another time, maybe on another machine. When a scenario serving the baseline build runs on
this machine (`gates.confirm.baseline_scenario`), the confirmation is an interleaved A/B test
instead: the point's requests are split into `gates.confirm.blocks` blocks, each measured on
both builds with the same prompts in ABBA order (`<scenario>/confirm/<point>/block-N/`,
`confirm-baseline/<point>/block-N/`), and the gates decide on those blocks alone, pairing request
with request (`cibench.gates.samples.interleaved_samples`). See docs/metrics.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cibench.artifacts import PerfSummaryRow, ScenarioWriter, read_summary
from cibench.artifacts.layout import CONFIRM_BASELINE_DIR
from cibench.client.credentials import auth_from_env
from cibench.config.perf import LoadPoint, PerfProfile
from cibench.config.settings import Settings
from cibench.errors import BaselineMissing, CibenchError
from cibench.gates.baseline import load_baseline, remeasured_point
from cibench.gates.rules import (
    REGRESSION_GATES,
    Baseline,
    BaselinePoint,
    Verdict,
    regression_verdict,
)
from cibench.gates.samples import (
    BLOCK_PREFIX,
    confirm_root,
    interleaved_samples,
    load_point_samples,
    name_matches,
)
from cibench.perf.runner import Report, RunTarget, run_point
from cibench.perf.workload import CONFIRM_SALT

UNSETTLED = ("fail", "inconclusive")
"""Verdicts that earn a load point its re-measurement."""


@dataclass(frozen=True, slots=True)
class Remeasurement:
    """One measurement the confirm step asks for: the scenario directory to record it in, the
    number of requests (None: the point's own) and the salt its prompts derive from (the same
    on both builds, so that they send the same prompts)."""

    where: Path
    requests: int | None = None
    salt: str = CONFIRM_SALT

    def of(self, point: LoadPoint) -> LoadPoint:
        """`point` with this measurement's number of requests."""
        return point if self.requests is None else replace(point, num_requests=self.requests)


Measure = Callable[[Remeasurement], object]


def measuring(
    on: RunTarget, profile: PerfProfile, point: LoadPoint, report: Report | None = None
) -> Measure:
    """A `Measure` that runs `point` of `profile` against `on` as each re-measurement asks: into
    its directory, with its number of requests and its prompts' salt."""

    def measure(job: Remeasurement) -> object:
        writer = ScenarioWriter(job.where)
        return run_point(on, profile, job.of(point), writer, report=report, salt=job.salt)

    return measure


MIN_BLOCK_PER_STREAM = 4
"""A block sends at least this many requests per concurrent stream where the point has them:
a smaller block spends most of its time filling and draining its streams, a lighter load than
the point's own."""


def block_sizes(requests: int, blocks: int, concurrency: int = 1) -> list[int]:
    """`requests` split into near-equal blocks (pure): at most `blocks`, fewer where a block
    would be under `MIN_BLOCK_PER_STREAM` x `concurrency` requests, and an even number (whole
    ABBA pairs) of at least two while there are two requests."""
    fit = requests // (MIN_BLOCK_PER_STREAM * max(concurrency, 1))
    count = min(blocks, max(fit, 2), requests)
    count = max(count - count % 2, 1)
    return [requests // count + (1 if i < requests % count else 0) for i in range(count)]


def abba(blocks: int) -> list[tuple[int, bool]]:
    """(block, on the baseline?) in ABBA order: B C, C B, B C, ... so that a drift of the
    machine, linear over the confirmation, is weighed on both builds alike."""
    order: list[tuple[int, bool]] = []
    for block in range(blocks):
        first_baseline = block % 2 == 0
        order += [(block, first_baseline), (block, not first_baseline)]
    return order


def unsettled(verdicts: list[Verdict]) -> list[Verdict]:
    """The verdicts that are neither a clear pass nor excluded / no data / no baseline."""
    return [verdict for verdict in verdicts if verdict.status in UNSETTLED]


def describe(verdict: Verdict) -> str:
    """`ttft_p99 INCONCLUSIVE +8.0% [-2.1%, +19.5%] (margin 10%)`."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:+.1f}%"

    interval = f" [{pct(verdict.low)}, {pct(verdict.high)}]" if verdict.low is not None else ""
    margin = f" (margin {verdict.threshold:.1%})" if verdict.threshold is not None else ""
    return f"{verdict.gate} {verdict.status.upper()} {pct(verdict.delta)}{interval}{margin}"


def recorded_point(summary_csv: Path, requests_csv: Path) -> PerfSummaryRow | None:
    """The summary row the perf stage just appended for `requests_csv` (None if not found)."""
    try:
        rows = read_summary(summary_csv)
    except (OSError, ValueError, CibenchError):
        return None
    for row in reversed(rows):
        if name_matches(requests_csv.name, row.key):
            return row
    return None


@dataclass
class Confirmer:
    """Per session (per xdist worker): the baselines (loaded once) and the time spent."""

    settings: Settings
    run_type: str
    source: str | None
    pushgateway_url: str | None
    run_dir: Path
    gates_enabled: bool = True
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    spent_s: float = 0.0
    _baselines: dict[str, Baseline | None] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether this session confirms at all (PR run, gates on, a baseline, enabled)."""
        return (
            self.run_type == "pr"
            and self.gates_enabled
            and bool(self.source)
            and self.settings.gates.confirm.enabled
        )

    def baseline(self, scenario: str) -> Baseline | None:
        """The baseline for `scenario`, loaded on first use (None when unavailable: the
        post-session gates say why)."""
        if scenario not in self._baselines:
            found: Baseline | None = None
            try:
                auth = auth_from_env(
                    self.environ,
                    self.settings.pushgateway_user_env,
                    self.settings.pushgateway_password_env,
                )
                found = load_baseline(
                    str(self.source),
                    scenarios=[scenario],
                    prefix=self.settings.metric_prefix,
                    job=self.settings.job,
                    pushgateway_url=self.pushgateway_url,
                    auth=auth,
                    exclude=self.run_dir,
                    history_runs=self.settings.gates.history_runs,
                )
            except (BaselineMissing, CibenchError):
                found = None
            self._baselines[scenario] = found
        return self._baselines[scenario]

    def verdicts(self, scenario: str, perf_dir: Path, point: PerfSummaryRow) -> list[Verdict]:
        """The point's regression verdicts against the baseline, with its records so far."""
        baseline = self.baseline(scenario)
        found = baseline.lookup(scenario, point.key) if baseline else None
        base = (
            remeasured_point(found, perf_dir, point) if found else BaselinePoint(None, None, None)
        )
        samples = load_point_samples(perf_dir, point)
        return [
            regression_verdict(spec, scenario, point, base, self.settings.gates, samples)
            for spec in REGRESSION_GATES
        ]

    def after_point(
        self,
        scenario: str,
        summary_csv: Path,
        requests_csv: Path,
        duration_s: float | None,
        remeasure: Measure,
        remeasure_baseline: Measure | None = None,
    ) -> list[str]:
        """Re-measure the point just recorded if a verdict is unsettled and time allows.

        :param remeasure: measures the same load point again as asked (into
            `<scenario>/confirm/<point>/`, or a block of it into `.../<point>/block-N/`).
        :param remeasure_baseline: measures it on the baseline scenario: then the confirmation
            is interleaved in `gates.confirm.blocks` blocks
            (`confirm-baseline/<point>/block-N/`).
        :returns: lines saying what happened (empty when nothing needed confirming).
        """
        if not self.active:
            return []
        perf_dir = summary_csv.parent
        point = recorded_point(summary_csv, requests_csv)
        if point is None or point.harness_bottleneck:
            return []
        first = unsettled(self.verdicts(scenario, perf_dir, point))
        if not first:
            return []
        said = "; ".join(describe(verdict) for verdict in first)
        budget = self.settings.gates.confirm.budget_seconds
        expected = (duration_s or 0.0) * (2 if remeasure_baseline is not None else 1)
        if self.spent_s + expected > budget:
            left = max(budget - self.spent_s, 0.0)
            return [
                f"confirm {point.key.describe()}: {said}: not re-measured (the {budget:g} s "
                f"confirmation budget has {left:.0f} s left, the point takes ~{expected:.0f} s)"
            ]
        started = time.monotonic()
        if remeasure_baseline is None:
            remeasure(Remeasurement(confirm_root(perf_dir, point.key)))
            what = "re-measured"
        else:
            deadline = started + budget - self.spent_s
            what = self._interleaved(perf_dir, point, remeasure, remeasure_baseline, deadline)
        took = time.monotonic() - started
        self.spent_s += took
        again = self.verdicts(scenario, perf_dir, point)
        pooled = "; ".join(describe(verdict) for verdict in again)
        return [f"confirm {point.key.describe()}: {said}: {what} in {took:.0f} s, pooled: {pooled}"]

    def _interleaved(
        self,
        perf_dir: Path,
        point: PerfSummaryRow,
        remeasure: Measure,
        remeasure_baseline: Measure,
        deadline: float,
    ) -> str:
        """Measure the point in ABBA blocks on both builds, stopping between whole pairs of
        blocks when the next pair would pass `deadline` (monotonic); say how it went, and
        whether the blocks decide."""
        # Num_Prompts is the point's requests per epoch (conversations, for multi-turn), the
        # unit a re-measurement's num_requests takes; Num_Requests counts every turn and epoch
        prompts = point.num_prompts or point.num_requests or 1
        sizes = block_sizes(prompts, self.settings.gates.confirm.blocks, point.concurrency or 1)
        candidate_root = confirm_root(perf_dir, point.key)
        baseline_root = confirm_root(perf_dir, point.key, CONFIRM_BASELINE_DIR)
        started = time.monotonic()
        outcome = (
            f"re-measured interleaved with the baseline scenario ({len(sizes)} blocks of "
            f"{sizes[0]} requests per build, ABBA)"
        )
        for step, (block, on_baseline) in enumerate(abba(len(sizes))):
            name = f"{BLOCK_PREFIX}{block + 1}"
            salt = f"{CONFIRM_SALT}:{name}"
            pairs_done = step // 4
            if step % 4 == 0 and pairs_done:
                per_pair = (time.monotonic() - started) / pairs_done
                if time.monotonic() + per_pair > deadline:
                    outcome = (
                        f"re-measured interleaved, stopped after block {block} of {len(sizes)} "
                        "(the confirmation budget would not hold the next pair of blocks)"
                    )
                    break
            try:
                if on_baseline:
                    remeasure_baseline(Remeasurement(baseline_root / name, sizes[block], salt))
                else:
                    remeasure(Remeasurement(candidate_root / name, sizes[block], salt))
            except CibenchError as exc:
                if step == 0:  # nothing to compare beside: confirm as without a baseline build
                    remeasure(Remeasurement(candidate_root))
                    return f"re-measured (the baseline scenario could not be measured: {exc})"
                # whole ABBA pairs of blocks measured so far still count: both builds, same
                # moments (cibench.gates.samples.balanced_blocks)
                outcome = f"re-measured interleaved, stopped at {name} of {len(sizes)} ({exc})"
                break
        if interleaved_samples(perf_dir, point) is None:
            outcome += (
                " [blocks set aside: no whole ABBA pair of them, or a baseline request failed; "
                "the first measurement decides]"
            )
        return outcome
