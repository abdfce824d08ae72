"""Confirm before failing: on a PR run, re-measure once a load point whose regression verdict is
not a clear PASS, before the post-session gates give the final verdict.

The perf stage calls `Confirmer.after_point` right after a load point was recorded. The point's
regression gates are evaluated against the baseline (loaded once per scenario and session);
when one is INCONCLUSIVE or FAIL and the session's confirmation budget allows, the point is
measured again into `<scenario>/confirm/perf/`. The post-session gates pool the records of both
measurements (`cibench.gates.samples`), which narrows the interval, and say so in the verdict's
detail. The baseline is recorded data (a previous run or a Pushgateway); when a scenario serving
the baseline build runs on this machine (`gates.confirm.baseline_scenario`), the point is
measured on it too, interleaved (baseline, then candidate), into `<scenario>/confirm-baseline/`,
and pooled into the baseline (`cibench.gates.baseline.remeasured_point`). See docs/metrics.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cibench.artifacts import PerfSummaryRow, read_summary
from cibench.artifacts.layout import CONFIRM_BASELINE_DIR
from cibench.client.credentials import auth_from_env
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
from cibench.gates.samples import confirm_dir, load_point_samples, name_matches

UNSETTLED = ("fail", "inconclusive")
"""Verdicts that earn a load point its re-measurement."""


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
        remeasure: Callable[[Path], object],
        remeasure_baseline: Callable[[Path], object] | None = None,
    ) -> list[str]:
        """Re-measure the point just recorded if a verdict is unsettled and time allows.

        :param remeasure: measures the same load point again, recording it under the given
            scenario directory (`<scenario>/confirm/`).
        :param remeasure_baseline: measures it on the baseline scenario, recording it under the
            given directory (`<scenario>/confirm-baseline/`); called first (interleaved).
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
        what = "re-measured"
        if remeasure_baseline is not None:
            try:
                remeasure_baseline(confirm_dir(perf_dir, CONFIRM_BASELINE_DIR).parent)
            except CibenchError as exc:
                what = f"re-measured (the baseline scenario could not be measured: {exc})"
            else:
                what = "re-measured with the baseline scenario (interleaved)"
        remeasure(confirm_dir(perf_dir).parent)
        took = time.monotonic() - started
        self.spent_s += took
        again = self.verdicts(scenario, perf_dir, point)
        pooled = "; ".join(describe(verdict) for verdict in again)
        return [f"confirm {point.key.describe()}: {said}: {what} in {took:.0f} s, pooled: {pooled}"]
