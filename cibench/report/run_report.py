"""The one-page HTML report of a run (`report.html`): header, gates, perf, functional, accuracy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cibench.accuracy.interval import wilson_interval
from cibench.gates.rules import Verdict
from cibench.report import page
from cibench.report.capacity_section import capacity_section
from cibench.report.perf_section import perf_section
from cibench.report.runview import AccuracyView, RunView, ScenarioView, verdict_record
from cibench.report.summary import (
    REGRESSION_GATE_NAMES,
    condense,
    format_interval,
    format_margin,
)

REPORT_FILE = "report.html"
GATE_COLUMNS = {
    "stage": "stage",
    "scenario": "scenario",
    "subject": "load point / subject",
    "metric": "metric",
    "baseline": "baseline",
    "current": "current",
    "delta": "delta [interval]",
    "threshold": "margin / threshold",
    "verdict": "verdict",
    "detail": "detail",
}


@dataclass(frozen=True, slots=True)
class RenderedReport:
    """The page and the names of the charts it holds (tests look for each in a browser)."""

    html: str
    plot_ids: list[str]


def slug(text: str) -> str:
    """`text` reduced to characters safe in an HTML id."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def overall_verdict(run: RunView) -> tuple[str, str]:
    """(text, css class) of the run's verdict from its gates: PASS, FAIL, WARN or NO GATES."""
    if not run.has_gates:
        return "NO GATES", "none"
    failing = any(verdict.failed for verdict in run.verdicts)
    if failing:
        return (
            ("WARN (gates warn on daily runs)", "warn")
            if run.run_type == "daily"
            else (
                "FAIL",
                "fail",
            )
        )
    if run.gates_failed:
        return "FAIL (see gates.json)", "fail"
    return "PASS", "pass"


def _when(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _joined(values: list[str]) -> str:
    return ", ".join(dict.fromkeys(v for v in values if v)) or "-"


def header(run: RunView, baseline: RunView | None) -> str:
    """Title, verdict badge and the run's identity."""
    text, css = overall_verdict(run)
    scenarios = run.scenarios
    duration = (
        f"{run.end_s - run.start_s:.0f} s"
        if run.start_s is not None and run.end_s is not None
        else ""
    )
    pairs = [
        ("run id", run.run_id),
        ("run type", run.run_type),
        ("commit", run.commit),
        ("branch", run.branch),
        ("scenarios", _joined([s.scenario for s in scenarios])),
        ("model", _joined([s.model for s in scenarios])),
        ("hardware", _joined([s.hardware for s in scenarios])),
        ("engine version", _joined([s.engine_version for s in scenarios])),
        ("started", _when(run.start_s)),
        ("duration", duration),
        ("cibench", run.cibench_version),
        ("baseline", baseline.run_id if baseline is not None else "none"),
    ]
    return f"<h1>cibench run {page.esc(run.run_id)}{page.badge(text, css)}</h1>\n" + page.facts(
        pairs
    )


def gate_row(verdict: Verdict) -> dict[str, object]:
    """A verdict as the report shows it: a regression gate's delta with its interval and the
    margin it applied (`14.2% (history)`), as in the terminal table; other gates' threshold."""
    regression = verdict.gate in REGRESSION_GATE_NAMES
    return {
        **verdict_record(verdict),
        "delta": format_interval(verdict),
        "threshold": format_margin(verdict) if regression else verdict.threshold,
    }


def gates_section(run: RunView) -> str:
    """Every gate verdict, coloured; failures first."""
    if not run.verdicts:
        return page.section("Gates", page.note("No gate verdicts in this run (gates disabled?)."))
    frame = pd.DataFrame([gate_row(verdict) for verdict in condense(run.verdicts)])
    order = {"fail": 0, "no data": 1, "no baseline": 2, "pass": 3}
    frame = frame.assign(_o=frame["verdict"].map(lambda v: order.get(str(v), 1)))
    frame = frame.sort_values("_o", kind="stable").drop(columns="_o")
    shown = frame[[c for c in GATE_COLUMNS if c in frame.columns]].rename(columns=GATE_COLUMNS)
    counts = frame["verdict"].value_counts().to_dict()
    summary = ", ".join(f"{count} {name}" for name, count in counts.items())
    return page.section(
        "Gates", page.note(summary) + page.table(shown, status_columns=("verdict",))
    )


def functional_section(view: ScenarioView) -> str:
    """Counts and the case table: failures first, then skips (with probe evidence), then passes."""
    cases = view.functional
    if cases.empty:
        return page.note("No functional results in this run.")
    order = {"fail": 0, "error": 0, "skip": 1}
    cases = cases.assign(_o=cases["status"].map(lambda v: order.get(str(v), 2)))
    cases = cases.sort_values(["_o", "suite", "case_id"], kind="stable").drop(columns="_o")
    counts = cases["status"].value_counts().to_dict()
    by_suite = (
        cases.pivot_table(index="suite", columns="status", values="case_id", aggfunc="count")
        .fillna(0)
        .astype(int)
        .reset_index()
    )
    passed = cases["status"] == "pass"
    name = slug(view.scenario)
    body = page.note(", ".join(f"{n} {status}" for status, n in counts.items())) + page.table(
        by_suite
    )
    if not passed.all():
        body += page.table(
            cases[~passed], status_columns=("status",), table_id=f"functional-{name}-open"
        )
    if passed.any():
        passing = page.table(
            cases[passed].drop(columns=["reason", "evidence"]),
            status_columns=("status",),
            table_id=f"functional-{name}-passed",
        )
        body += f"<details><summary>{int(passed.sum())} passing cases</summary>{passing}</details>"
    return body


def accuracy_block(result: AccuracyView) -> str:
    """Score with its 95% interval, the threshold, and one row per question."""
    interval = (
        wilson_interval(result.score, result.n)
        if result.score is not None and result.n is not None
        else None
    )
    ci = f"{interval[0]:.3f} to {interval[1]:.3f}" if interval else "-"
    verdict = {True: "pass", False: "fail", None: "none"}[result.passed]
    pairs = [
        ("score", page.format_number(result.score)),
        ("95% interval (Wilson)", ci),
        ("std", page.format_number(result.std)),
        ("samples", page.format_number(result.n)),
        ("threshold", page.format_number(result.threshold)),
        ("verdict", verdict),
    ]
    title = f"{result.dataset} / {result.variant}"
    body = page.facts(pairs)
    if result.synthetic:
        body += page.note("Synthetic questions: this score checks the harness, not the model.")
    samples = result.samples
    if samples.empty or "question" not in samples.columns:
        body += page.note("The accuracy JSON has no per-sample rows (written by an older cibench).")
    else:
        per_question = (
            samples.groupby("question", sort=True)
            .agg(
                repeats=("score", "size"),
                score=("score", "mean"),
                gold=("gold", lambda s: " ".join(dict.fromkeys(str(v) for v in s))),
                extracted=(
                    "extracted",
                    lambda s: " ".join("-" if v is None else str(v) for v in s),
                ),
                errors=("error", lambda s: sum(1 for v in s if v)),
            )
            .reset_index()
        )
        per_question["result"] = ["pass" if v >= 0.5 else "fail" for v in per_question["score"]]
        body += page.table(per_question, status_columns=("result",))
    return page.section(title, body, 4)


def scenario_section(
    run: RunView, view: ScenarioView, baseline: RunView | None
) -> tuple[str, list[str]]:
    """One scenario's perf, functional and accuracy parts."""
    name = slug(view.scenario)
    parts = [
        page.facts(
            [
                ("model", view.model),
                ("hardware", view.hardware),
                ("engine version", view.engine_version),
                ("mode", view.mode),
                ("quant", view.quant),
                ("stages", ", ".join(view.expected_stages)),
            ]
        )
    ]
    if view.launch_error:
        parts.append(page.note(f"server failed to start: {view.launch_error}", problem=True))
    parts += [page.note(problem, problem=True) for problem in view.problems]
    base_view = baseline.scenario(view.scenario) if baseline is not None else None
    perf_html, ids = perf_section(view, base_view, name)
    parts.append(page.section("Performance", perf_html, 3, anchor=f"perf-{name}"))
    capacity = capacity_section(view, name)
    if capacity is not None:
        capacity_html, capacity_ids = capacity
        parts.append(page.section("Capacity", capacity_html, 3, anchor=f"capacity-{name}"))
        ids = [*ids, *capacity_ids]
    parts.append(page.section("Functional", functional_section(view), 3, anchor=f"func-{name}"))
    accuracy = "".join(accuracy_block(r) for r in view.accuracy) or page.note(
        "No accuracy results in this run."
    )
    parts.append(page.section("Accuracy", accuracy, 3, anchor=f"acc-{name}"))
    return page.section(f"Scenario {view.scenario}", "\n".join(parts), anchor=name), ids


def render_run_report(run: RunView, baseline: RunView | None = None) -> RenderedReport:
    """The whole report of `run`, with `baseline`'s curves drawn beside when given."""
    blocks = [header(run, baseline), gates_section(run)]
    plot_ids: list[str] = []
    for view in run.scenarios:
        html, ids = scenario_section(run, view, baseline)
        blocks.append(html)
        plot_ids += ids
    blocks.append(
        page.note(
            f"Written by cibench from {run.run_dir}. Every chart is inline SVG: the page needs "
            "no network and no script."
        )
    )
    return RenderedReport(page.page(f"cibench {run.run_id}", "\n".join(blocks)), plot_ids)


def write_run_report(
    run: RunView, baseline: RunView | None = None, out: Path | None = None
) -> Path:
    """Render and write the report (default `<run_dir>/report.html`); return its path."""
    path = out or run.run_dir / REPORT_FILE
    rendered = render_run_report(run, baseline)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(rendered.html, encoding="utf-8")
    tmp.replace(path)
    return path
