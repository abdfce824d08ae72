"""The comparison page (`cibench compare`): runs side by side on the load points they share.

Each scenario of each run is one *subject* (labelled with the run id, plus the scenario when a
run has several); the first subject is the reference every ratio is taken against. Load
points match on their whole key (control method, backend, concurrency, request rate, input
and output length); points that not every subject has are listed and left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from cibench.artifacts import CapacityKey
from cibench.config.pricing import Pricing
from cibench.errors import CibenchError
from cibench.report import charts, page
from cibench.report.capacity_section import answer_text
from cibench.report.cost import (
    PointFigures,
    Slo,
    best_under_slo,
    cost_per_million,
    energy_kwh_per_million,
)
from cibench.report.perf_section import GROUP_COLUMNS, curve_groups
from cibench.report.runview import KEY_COLUMNS, RunView, ScenarioView

HEADLINE = (
    ("Output_Token_Throughput(tokens/s)", "output tok/s", True),
    ("QPS", "req/s", True),
    ("TP99_TTFT(s)", "TTFT P99 (s)", False),
    ("TP99_TPOT(s)", "TPOT P99 (s)", False),
    ("TP99_E2E(s)", "E2E P99 (s)", False),
    ("Fail_Rate", "fail rate", False),
)
"""(summary column, label, higher is better) of the comparison table."""
NOTICEABLE = 0.05
"""A ratio further than this from 1 is coloured (better green, worse red)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """One scenario of one run."""

    label: str
    run: RunView
    view: ScenarioView


@dataclass(frozen=True, slots=True)
class Matching:
    """The load points every subject has, and what was left out."""

    points: list[str]
    """Labels of the shared load points, in the first subject's order."""
    left_out: dict[str, list[str]]
    """Subject label -> its load points that were not compared."""


def subjects(runs: Sequence[RunView]) -> list[Subject]:
    """Every scenario with perf results, in run order."""
    out = []
    for run in runs:
        with_perf = [view for view in run.scenarios if not view.perf.empty]
        for view in with_perf:
            label = run.run_id if len(with_perf) == 1 else f"{run.run_id}/{view.scenario}"
            out.append(Subject(label, run, view))
    return out


def match_points(items: Sequence[Subject]) -> Matching:
    """The shared load points; `CibenchError` when there are none."""
    keyed = [{_key(row): str(row["point"]) for _, row in s.view.perf.iterrows()} for s in items]
    shared = set(keyed[0]).intersection(*keyed[1:])
    left_out = {
        s.label: [label for key, label in k.items() if key not in shared]
        for s, k in zip(items, keyed, strict=True)
    }
    if not shared:
        listing = "; ".join(
            f"{s.label}: {', '.join(k.values())}" for s, k in zip(items, keyed, strict=True)
        )
        raise CibenchError(
            "the runs share no perf load point, so there is nothing to compare "
            f"({listing}). Compare runs of the same perf profile (same control method, "
            "backend, concurrency or rate, input and output lengths)."
        )
    order = [label for key, label in keyed[0].items() if key in shared]
    return Matching(order, {k: v for k, v in left_out.items() if v})


def _key(row: pd.Series) -> tuple[str, ...]:
    return tuple(str(row[column]) for column in KEY_COLUMNS)


def _row(subject: Subject, point: str) -> pd.Series:
    perf = subject.view.perf
    return perf[perf["point"] == point].iloc[0]


def _number(row: pd.Series, column: str) -> float | None:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def ratio(value: float | None, reference: float | None) -> float | None:
    """value / reference, or None when either is missing or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def headline_table(items: Sequence[Subject], matching: Matching) -> pd.DataFrame:
    """One row per (load point, metric): each subject's value and its ratio to the first."""
    rows = []
    reference = items[0]
    for point in matching.points:
        base_row = _row(reference, point)
        for column, label, _ in HEADLINE:
            row: dict[str, object] = {"load point": point, "metric": label}
            base = _number(base_row, column)
            for subject in items:
                value = _number(_row(subject, point), column)
                row[subject.label] = value
                if subject is not reference:
                    row[f"{subject.label} ÷ {reference.label}"] = ratio(value, base)
            rows.append(row)
    return pd.DataFrame(rows)


def _coloured_ratios(table: pd.DataFrame) -> str:
    """The headline table with each ratio cell coloured by whether it is better or worse."""
    better = {label: up for _, label, up in HEADLINE}
    ratio_columns = [c for c in table.columns if "÷" in c]
    shown = table.copy().astype(object)
    for column in ratio_columns:
        cells = []
        for metric, value in zip(table["metric"], table[column], strict=True):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")
                continue
            good = value > 1 if better[str(metric)] else value < 1
            css = "none" if abs(value - 1) <= NOTICEABLE else ("pass" if good else "fail")
            cells.append(page.badge(f"{value:.3f}×", css))
        shown[column] = cells
    formatters: dict[str, Callable[[object], str]] = dict.fromkeys(ratio_columns, str)
    return page.table(shown, formatters=formatters)


def curves_chart(
    chart_id: str, items: Sequence[Subject], group_columns: pd.Series, title: str
) -> str:
    """Latency (E2E P50) against output throughput, one line per subject, on one curve."""
    series = []
    for index, subject in enumerate(items):
        perf = subject.view.perf
        wanted = pd.Series(True, index=perf.index)
        for column in GROUP_COLUMNS:
            wanted &= perf[column] == group_columns[column]
        frame = perf[wanted]
        x_column = "request_rate" if group_columns["control_method"] == "poisson" else "concurrency"
        prefix = "r" if x_column == "request_rate" else "c"
        series.append(
            charts.Series(
                subject.label,
                [float(v) for v in frame["Output_Token_Throughput(tokens/s)"]],
                [None if pd.isna(v) else float(v) * 1e3 for v in frame["TP50_E2E(s)"]],
                charts.colour(index),
                annotations=[f"{prefix}{v}" for v in frame[x_column]],
            )
        )
    return charts.line_chart(
        chart_id,
        series,
        title=title,
        xlabel="output tokens/s",
        ylabel="E2E P50 (ms)",
    )


def geometric_mean(values: Sequence[float]) -> float | None:
    """The geometric mean of positive values (None when there are none)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def ratio_bars(chart_id: str, table: pd.DataFrame, items: Sequence[Subject]) -> str:
    """Per headline metric, each subject's geometric-mean ratio to the first over shared points."""
    metrics = [label for column, label, _ in HEADLINE if column != "Fail_Rate"]
    stacks: dict[str, list[float]] = {items[0].label: [1.0] * len(metrics)}
    for subject in items[1:]:
        column = f"{subject.label} ÷ {items[0].label}"
        values = []
        for metric in metrics:
            cells = table.loc[table["metric"] == metric, column]
            mean = geometric_mean([float(v) for v in cells if v is not None and not pd.isna(v)])
            values.append(mean if mean is not None else math.nan)
        stacks[subject.label] = values
    return charts.bar_chart(
        chart_id,
        metrics,
        stacks,
        title=f"ratio to {items[0].label} (geo. mean over shared points)",
        ylabel="ratio",
        grouped=True,
        reference=1.0,
        reference_label="= reference",
        width_in=5.2,
    )


def cost_table(items: Sequence[Subject], matching: Matching, pricing: Pricing) -> pd.DataFrame:
    """Cost (and energy) per 1M output and total tokens at each shared load point."""
    rows = []
    for subject in items:
        price = pricing.price(subject.view.hardware)
        for point in matching.points:
            row = _row(subject, point)
            output = _number(row, "Output_Token_Throughput(tokens/s)")
            total = _number(row, "Total_Token_Throughput(tokens/s)")
            rows.append(
                {
                    "subject": subject.label,
                    "hardware": subject.view.hardware or "-",
                    "load point": point,
                    f"price/h ({pricing.currency})": price.price_per_hour if price else None,
                    "output tok/s": output,
                    f"{pricing.currency} per 1M output tok": cost_per_million(
                        price.price_per_hour, output
                    )
                    if price
                    else None,
                    f"{pricing.currency} per 1M total tok": cost_per_million(
                        price.price_per_hour, total
                    )
                    if price
                    else None,
                    "kWh per 1M output tok": energy_kwh_per_million(
                        price.power_watts if price else None, output
                    ),
                }
            )
    return pd.DataFrame(rows)


def figures_of(subject: Subject, point: str) -> PointFigures:
    """The SLO-relevant numbers of one load point."""
    row = _row(subject, point)
    return PointFigures(
        label=point,
        output_tokens_per_s=_number(row, "Output_Token_Throughput(tokens/s)"),
        ttft_p99_s=_number(row, "TP99_TTFT(s)"),
        tpot_p99_s=_number(row, "TP99_TPOT(s)"),
        fail_rate=_number(row, "Fail_Rate"),
    )


def best_table(
    items: Sequence[Subject], matching: Matching, pricing: Pricing, slo: Slo
) -> pd.DataFrame:
    """Per subject: the highest-throughput shared point meeting the SLO and its cost."""
    rows = []
    for subject in items:
        best = best_under_slo([figures_of(subject, p) for p in matching.points], slo)
        price = pricing.price(subject.view.hardware)
        output = best.output_tokens_per_s if best else None
        rows.append(
            {
                "subject": subject.label,
                "hardware": subject.view.hardware or "-",
                "best load point": best.label if best else "none meets the SLO",
                "output tok/s": output,
                "TTFT P99 (s)": best.ttft_p99_s if best else None,
                "TPOT P99 (s)": best.tpot_p99_s if best else None,
                f"{pricing.currency} per 1M output tok": cost_per_million(
                    price.price_per_hour, output
                )
                if price
                else None,
                "kWh per 1M output tok": energy_kwh_per_million(
                    price.power_watts if price else None, output
                ),
            }
        )
    return pd.DataFrame(rows)


def _runs_table(items: Sequence[Subject]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "subject": s.label,
                "run type": s.run.run_type,
                "commit": s.run.commit[:12],
                "branch": s.run.branch,
                "scenario": s.view.scenario,
                "model": s.view.model,
                "hardware": s.view.hardware,
                "engine version": s.view.engine_version,
                "load points": len(s.view.perf),
            }
            for s in items
        ]
    )


def capacity_table(items: Sequence[Subject]) -> pd.DataFrame:
    """Per SLO search or ladder that every subject ran (same load axis, backend, shape and SLO):
    each subject's answer and its ratio to the first's. Empty when none is shared."""
    keyed = [{found.key: found for found in s.view.capacity} for s in items]
    shared: list[CapacityKey] = [key for key in keyed[0] if all(key in k for k in keyed[1:])]
    rows = []
    for key in shared:
        first = keyed[0][key]
        what = answer_text(first).split(":", 1)[0]
        row: dict[str, object] = {
            "search": f"{what} · {key.backend} in{key.input_len} out{key.output_len}",
            "SLO": first.slo,
        }
        for subject, found in zip(items, (k[key] for k in keyed), strict=True):
            row[subject.label] = found.capacity
        for subject, found in zip(items[1:], (k[key] for k in keyed[1:]), strict=True):
            row[f"{subject.label} ÷ {items[0].label}"] = ratio(found.capacity, first.capacity)
        row["stopped"] = "; ".join(
            f"{s.label}: {k[key].stop_reason}" for s, k in zip(items, keyed, strict=True)
        )
        rows.append(row)
    return pd.DataFrame(rows)


def capacity_chart(chart_id: str, table: pd.DataFrame, items: Sequence[Subject]) -> str:
    """Each shared search's answer per subject, as grouped bars."""
    stacks = {
        s.label: [math.nan if pd.isna(v) else float(v) for v in table[s.label]] for s in items
    }
    return charts.bar_chart(
        chart_id,
        [str(v).split(" under SLO", 1)[0] for v in table["search"]],
        stacks,
        title="capacity under the SLO",
        ylabel="answer (load)",
        grouped=True,
        width_in=5.2,
    )


def _capacity_html(items: Sequence[Subject], plot_ids: list[str]) -> str:
    """The capacity section (empty when no search is shared by every run)."""
    table = capacity_table(items)
    if table.empty:
        if any(s.view.capacity for s in items):
            return page.section(
                "Capacity under the SLO",
                page.note(
                    "Not every run has the same SLO search (load axis, backend, shape and SLO "
                    "hash must match): capacities not compared."
                ),
            )
        return ""
    plot_ids.append("compare-capacity")
    chart = page.figure("compare-capacity", capacity_chart("compare-capacity", table, items))
    ratios = [c for c in table.columns if "÷" in c]
    shown = table.copy().astype(object)
    for column in ratios:
        shown[column] = [
            "-"
            if value is None or pd.isna(value)
            else page.badge(
                f"{value:.3f}×",
                "none" if abs(value - 1) <= NOTICEABLE else ("pass" if value > 1 else "fail"),
            )
            for value in table[column]
        ]
    formatters: dict[str, Callable[[object], str]] = dict.fromkeys(ratios, str)
    return page.section(
        "Capacity under the SLO",
        page.plots([chart]) + page.table(shown, formatters=formatters),
    )


@dataclass(frozen=True, slots=True)
class RenderedCompare:
    """The page, the chart ids in it, and the notes it printed (left-out points, no price)."""

    html: str
    plot_ids: list[str]
    notes: list[str]


def render_compare(
    runs: Sequence[RunView], pricing: Pricing, slo: Slo, pricing_source: str
) -> RenderedCompare:
    """The comparison page of `runs` (the first is the reference)."""
    items = subjects(runs)
    if len(items) < 2:
        raise CibenchError(
            "cibench compare needs at least two runs (or scenarios) with perf results; "
            f"found {len(items)} among {', '.join(r.run_id for r in runs)}."
        )
    matching = match_points(items)
    notes = [
        f"{label}: not compared (no match in every run): {', '.join(points)}"
        for label, points in matching.left_out.items()
    ]
    models = {s.view.model for s in items}
    if len(models) > 1:
        notes.append(f"the runs serve different models ({', '.join(sorted(models))}).")
    unpriced = sorted(
        {s.view.hardware or "(none)" for s in items if pricing.price(s.view.hardware) is None}
    )
    if unpriced:
        notes.append(
            f"no price for hardware {', '.join(unpriced)} in {pricing_source}: add "
            "`hardware: {LABEL: {price_per_hour: N}}` there to get costs."
        )
    table = headline_table(items, matching)
    plot_ids: list[str] = []
    figures = []
    reference = items[0].view.perf
    shared = reference[reference["point"].isin(matching.points)]
    for group in curve_groups(shared):
        plot_id = f"compare-curves-{group.slug}"
        plot_ids.append(plot_id)
        figures.append(
            page.figure(
                plot_id,
                curves_chart(
                    plot_id, items, group.points.iloc[0], f"E2E vs throughput · {group.name}"
                ),
            )
        )
    plot_ids.append("compare-ratios")
    figures.append(page.figure("compare-ratios", ratio_bars("compare-ratios", table, items)))
    best = best_table(items, matching, pricing, slo)
    cost_column = f"{pricing.currency} per 1M output tok"
    plot_ids.append("compare-cost")
    figures.append(
        page.figure(
            "compare-cost",
            charts.bar_chart(
                "compare-cost",
                [str(v) for v in best["subject"]],
                {cost_column: [v if v is not None else math.nan for v in best[cost_column]]},
                title="cost per 1M output tokens, best point under SLO",
                ylabel=pricing.currency,
            ),
        )
    )
    reference_label = items[0].label
    body = [
        f"<h1>cibench comparison · {len(items)} runs</h1>",
        page.note(
            f"Ratios are to the first run, {reference_label}. "
            f"Shared load points: {len(matching.points)}."
        ),
        *[page.note(n, problem=True) for n in notes],
        page.table(_runs_table(items)),
        page.section("Charts", page.plots(figures)),
        _capacity_html(items, plot_ids),
        page.section("Headline metrics per load point", _coloured_ratios(table)),
        page.section(
            "Cost at the best load point under the SLO",
            page.note(f"SLO: {slo.describe()}. Prices: {pricing_source}.") + page.table(best),
        ),
        page.section(
            "Cost and energy per load point", page.table(cost_table(items, matching, pricing))
        ),
    ]
    return RenderedCompare(page.page("cibench comparison", "\n".join(body)), plot_ids, notes)
