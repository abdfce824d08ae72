"""The perf part of the run report: latency, throughput, distribution, failure and harness charts.

Load points are drawn in groups that differ only in their load (`curve_groups`): the x axis
is the concurrency, or the request rate for open-loop (`poisson`) points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cibench.report import charts, page
from cibench.report.runview import ScenarioView

FAMILIES = (("TTFT", "TTFT"), ("TPOT", "TPOT"), ("E2E", "E2E"))
"""(summary column family, axis name) drawn as latency-vs-load charts."""
PERCENTILES = ("TP50", "TP90", "TP99")
GROUP_COLUMNS = ["control_method", "backend", "input_len", "output_len"]


@dataclass(frozen=True, slots=True)
class CurveGroup:
    """Load points that differ only in concurrency (or request rate)."""

    name: str
    """`fixed/threading-pool in128 out128`."""
    slug: str
    x_column: str
    """`concurrency` or `request_rate`."""
    points: pd.DataFrame


def x_name(x_column: str) -> str:
    """The axis label of a load column."""
    return "request rate (req/s)" if x_column == "request_rate" else "concurrency"


def curve_groups(perf: pd.DataFrame) -> list[CurveGroup]:
    """Split a perf table into curves, keeping the table's order."""
    if perf.empty:
        return []
    groups = []
    for values, points in perf.groupby(GROUP_COLUMNS, sort=False):
        control, backend, input_len, output_len = (str(v) for v in values)
        # open loop (poisson, or a search / ladder over the rate): the rate is the load
        open_loop = all(str(v or "") not in ("", "nan") for v in points["request_rate"])
        x_column = "request_rate" if control == "poisson" or open_loop else "concurrency"
        name = f"{control}/{backend} in{input_len} out{output_len}"
        slug = f"{control}-{backend}-in{input_len}-out{output_len}"
        groups.append(CurveGroup(name, slug, x_column, points.reset_index(drop=True)))
    return groups


def _numbers(frame: pd.DataFrame, column: str) -> list[float | None]:
    if column not in frame.columns:
        return [None] * len(frame)
    return [None if pd.isna(v) else float(v) for v in frame[column]]


def matching_points(group: CurveGroup, other: pd.DataFrame) -> pd.DataFrame:
    """The rows of another run's perf table on the same curve (same key apart from the load)."""
    if other.empty:
        return other
    wanted = pd.Series(True, index=other.index)
    first = group.points.iloc[0]
    for column in GROUP_COLUMNS:
        wanted &= other[column] == first[column]
    return other[wanted]


def _xs(frame: pd.DataFrame, x_column: str) -> list[float]:
    return [float(v) for v in frame[x_column]]


def latency_chart(
    chart_id: str,
    group: CurveGroup,
    family: str,
    baseline: pd.DataFrame | None = None,
) -> str:
    """P50/P90/P99 of one latency family against the load; the baseline's dashed beside."""
    series: list[charts.Series] = []
    xs = _xs(group.points, group.x_column)
    for index, stat in enumerate(PERCENTILES):
        column = f"{stat}_{family}(s)"
        label = stat.replace("TP", "P")
        series.append(
            charts.Series(label, xs, _ms(_numbers(group.points, column)), charts.colour(index))
        )
        if baseline is not None and not baseline.empty:
            series.append(
                charts.Series(
                    f"{label} baseline",
                    _xs(baseline, group.x_column),
                    _ms(_numbers(baseline, column)),
                    charts.colour(index),
                    dashed=True,
                )
            )
    return charts.line_chart(
        chart_id,
        series,
        title=f"{family} vs {x_name(group.x_column).split(' (')[0]}",
        xlabel=x_name(group.x_column),
        ylabel=f"{family} (ms)",
        logx=group.x_column == "concurrency" and len(xs) > 2,
    )


def _ms(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else v * 1e3 for v in values]


def throughput_chart(
    chart_id: str,
    groups: Sequence[CurveGroup],
    y_column: str,
    y_label: str,
    latency_column: str,
    latency_label: str,
    baseline: pd.DataFrame | None = None,
) -> str:
    """Throughput against latency, one line per curve (points labelled with their load)."""
    series = []
    for index, group in enumerate(groups):
        frames = [(group.name, group.points, False)]
        if baseline is not None and not baseline.empty:
            frames.append((f"{group.name} baseline", matching_points(group, baseline), True))
        for label, frame, dashed in frames:
            if frame.empty:
                continue
            prefix = "r" if group.x_column == "request_rate" else "c"
            series.append(
                charts.Series(
                    label,
                    [v or 0.0 for v in _ms(_numbers(frame, latency_column))],
                    _numbers(frame, y_column),
                    charts.colour(index),
                    dashed=dashed,
                    annotations=[] if dashed else [f"{prefix}{v}" for v in frame[group.x_column]],
                )
            )
    return charts.line_chart(
        chart_id,
        series,
        title=f"{y_label} vs {latency_label}",
        xlabel=f"{latency_label} (ms)",
        ylabel=y_label,
        ylim_zero=True,
    )


GOODPUT = "Goodput(req/s)"


def has_goodput(group: CurveGroup) -> bool:
    """Whether the curve was judged against a per-request SLO (goodput is `-1` without one)."""
    return any(v is not None for v in _numbers(group.points, GOODPUT))


def goodput_chart(chart_id: str, group: CurveGroup, baseline: pd.DataFrame | None = None) -> str:
    """Requests/s and goodput (requests meeting the SLO, per second) against the load: where
    the two part is where the server stops meeting the SLO."""
    xs = _xs(group.points, group.x_column)
    lines = [("requests/s", "QPS", 0), ("goodput", GOODPUT, 2)]
    series = [
        charts.Series(label, xs, _numbers(group.points, column), charts.colour(index))
        for label, column, index in lines
    ]
    if baseline is not None and not baseline.empty:
        series.append(
            charts.Series(
                "goodput baseline",
                _xs(baseline, group.x_column),
                _numbers(baseline, GOODPUT),
                charts.colour(2),
                dashed=True,
            )
        )
    slo = next((v for v in group.points.get("Goodput_SLO", []) if isinstance(v, str) and v), "")
    return charts.line_chart(
        chart_id,
        series,
        title=f"Goodput vs {x_name(group.x_column).split(' (')[0]}" + (f" ({slo})" if slo else ""),
        xlabel=x_name(group.x_column),
        ylabel="req/s",
    )


def _successful(requests: pd.DataFrame, column: str) -> list[float]:
    if requests.empty or column not in requests.columns:
        return []
    ok = requests
    if "Success" in requests.columns:
        ok = requests[requests["Success"].map(lambda v: str(v) in ("1", "1.0", "True", "true"))]
    return [float(v) * 1e3 for v in ok[column] if isinstance(v, int | float) and v >= 0]


def distribution_chart(
    chart_id: str, group: CurveGroup, view: ScenarioView, column: str, name: str
) -> str:
    """The CDF of one per-request latency (ms) at each load point of a curve."""
    samples = {}
    prefix = "r" if group.x_column == "request_rate" else "c"
    for _, point in group.points.iterrows():
        requests = view.requests.get(str(point["point"]), pd.DataFrame())
        samples[f"{prefix}{point[group.x_column]}"] = _successful(requests, column)
    return charts.cdf_chart(
        chart_id, samples, title=f"{name} CDF per load point", xlabel=f"{name} (ms)"
    )


def failure_breakdown(view: ScenarioView) -> pd.DataFrame:
    """Per load point and error type: failed requests and one example message."""
    rows = []
    for label, requests in view.requests.items():
        if requests.empty or "Success" not in requests.columns:
            continue
        failed = requests[~requests["Success"].map(lambda v: str(v) in ("1", "1.0", "True"))]
        if failed.empty:
            continue
        kinds = failed.get("Error_Type", pd.Series(["error"] * len(failed), index=failed.index))
        for kind, rows_of_kind in failed.groupby(kinds.map(lambda v: str(v) or "error")):
            message = str(rows_of_kind.get("Error_Message", pd.Series([""])).iloc[0])
            rows.append(
                {
                    "load point": label,
                    "error type": kind,
                    "failed requests": len(rows_of_kind),
                    "example message": message[:200],
                }
            )
    return pd.DataFrame(
        rows, columns=["load point", "error type", "failed requests", "example message"]
    )


def failures_chart(chart_id: str, view: ScenarioView, breakdown: pd.DataFrame) -> str:
    """Stacked bars per load point: successful requests, then each failure reason."""
    labels = [str(v) for v in view.perf["point"]]
    stacks: dict[str, list[float]] = {"success": [v or 0.0 for v in _numbers(view.perf, "Success")]}
    colours = {"success": "#8fd19e"}
    for kind in sorted(set(breakdown["error type"])) if not breakdown.empty else []:
        counts = []
        for label in labels:
            match = breakdown[
                (breakdown["load point"] == label) & (breakdown["error type"] == kind)
            ]
            counts.append(float(match["failed requests"].sum()))
        stacks[f"failed: {kind}"] = counts
    if breakdown.empty:
        # no per-request files: fall back to the summary's failure count
        stacks["failed"] = [v or 0.0 for v in _numbers(view.perf, "Failures")]
        colours["failed"] = "#d62728"
    return charts.bar_chart(
        chart_id,
        [_short(label) for label in labels],
        stacks,
        title="requests per load point: success and failure reasons",
        ylabel="requests",
        colours=colours,
    )


def _short(label: str) -> str:
    """A load point label without its control/backend prefix (the group says it)."""
    return label.split(" ", 1)[1] if " " in label else label


def harness_chart(chart_id: str, view: ScenarioView) -> str:
    """Send lag P99 per load point (ms); load points flagged harness-bound in red."""
    labels = [_short(str(v)) for v in view.perf["point"]]
    lag = [v or 0.0 for v in _ms(_numbers(view.perf, "TP99_Send_Lag(s)"))]
    flagged = [bool(v) for v in _numbers(view.perf, "Harness_Bottleneck")]
    return charts.bar_chart(
        chart_id,
        labels,
        {
            "send lag P99": [v if not f else 0.0 for v, f in zip(lag, flagged, strict=True)],
            "harness-bound": [v if f else 0.0 for v, f in zip(lag, flagged, strict=True)],
        },
        title="harness health: send lag P99 per load point",
        ylabel="send lag P99 (ms)",
        colours={"send lag P99": "#8c9eb5", "harness-bound": "#d62728"},
    )


SUMMARY_COLUMNS = {
    "point": "load point",
    "Num_Requests": "requests",
    "Failures": "failed",
    "Fail_Rate": "fail rate",
    "QPS": "req/s",
    "Output_Token_Throughput(tokens/s)": "output tok/s",
    "TP50_TTFT(s)": "TTFT P50 (s)",
    "TP99_TTFT(s)": "TTFT P99 (s)",
    "TP50_TPOT(s)": "TPOT P50 (s)",
    "TP99_TPOT(s)": "TPOT P99 (s)",
    "TP50_E2E(s)": "E2E P50 (s)",
    "TP99_E2E(s)": "E2E P99 (s)",
    "TP99_Send_Lag(s)": "send lag P99 (s)",
}


def summary_table(perf: pd.DataFrame) -> pd.DataFrame:
    """The headline columns of a perf table, renamed with units."""
    present = [c for c in SUMMARY_COLUMNS if c in perf.columns]
    table = perf[present].rename(columns=SUMMARY_COLUMNS)
    if "Harness_Bottleneck" in perf.columns:
        table["harness"] = ["harness-bound" if v == 1 else "ok" for v in perf["Harness_Bottleneck"]]
    return table


def perf_section(
    view: ScenarioView, baseline: ScenarioView | None, slug: str
) -> tuple[str, list[str]]:
    """The scenario's perf HTML and the ids of the charts in it."""
    if view.perf.empty:
        return page.note("No perf results in this run."), []
    ids: list[str] = []
    blocks: list[str] = []

    def add(plot_id: str, svg: str) -> str:
        ids.append(plot_id)
        return page.figure(plot_id, svg)

    groups = curve_groups(view.perf)
    base_perf = baseline.perf if baseline is not None else None
    if baseline is not None:
        blocks.append(page.note(f"Dashed lines: the baseline run ({baseline.scenario})."))
    for group in groups:
        base = matching_points(group, base_perf) if base_perf is not None else None
        figures = [
            add(
                f"{slug}-latency-{family.lower()}-{group.slug}",
                latency_chart(f"{slug}-lat-{family}-{group.slug}", group, family, base),
            )
            for family, _ in FAMILIES
        ]
        blocks.append(page.section(f"Latency vs load · {group.name}", page.plots(figures), 4))
    throughput = [
        add(
            f"{slug}-throughput-tokens",
            throughput_chart(
                f"{slug}-tput-tok",
                groups,
                "Output_Token_Throughput(tokens/s)",
                "output tokens/s",
                "TP50_E2E(s)",
                "E2E P50",
                base_perf,
            ),
        ),
        add(
            f"{slug}-throughput-requests",
            throughput_chart(
                f"{slug}-tput-req",
                groups,
                "QPS",
                "requests/s",
                "TP99_TTFT(s)",
                "TTFT P99",
                base_perf,
            ),
        ),
    ]
    blocks.append(page.section("Throughput vs latency", page.plots(throughput), 4))
    for group in filter(has_goodput, groups):
        base = matching_points(group, base_perf) if base_perf is not None else None
        figure = add(
            f"{slug}-goodput-{group.slug}",
            goodput_chart(f"{slug}-good-{group.slug}", group, base),
        )
        blocks.append(page.section(f"Goodput vs load · {group.name}", page.plots([figure]), 4))
    if view.requests:
        for group in groups:
            figures = [
                add(
                    f"{slug}-cdf-{family.lower()}-{group.slug}",
                    distribution_chart(
                        f"{slug}-cdf-{family}-{group.slug}", group, view, family, family
                    ),
                )
                for family in ("TTFT", "TPOT")
            ]
            title = f"Per-request distributions · {group.name}"
            blocks.append(page.section(title, page.plots(figures), 4))
    else:
        blocks.append(page.note("No requests_*.csv files: per-request distributions not drawn."))
    breakdown = failure_breakdown(view)
    health = [
        add(f"{slug}-failures", failures_chart(f"{slug}-fail", view, breakdown)),
        add(f"{slug}-harness", harness_chart(f"{slug}-harness", view)),
    ]
    blocks.append(page.section("Failures and harness health", page.plots(health), 4))
    if not breakdown.empty:
        blocks.append(page.table(breakdown))
    flagged = view.perf[view.perf.get("Harness_Bottleneck", pd.Series(dtype=float)) == 1]
    for label in flagged.get("point", []):
        blocks.append(
            page.note(
                f"{label}: the load generator fell behind its schedule (send lag); the latencies "
                "of this point partly measure the harness, not the server.",
                problem=True,
            )
        )
    blocks.append(
        page.section(
            "Load points", page.table(summary_table(view.perf), status_columns=("harness",)), 4
        )
    )
    return "\n".join(blocks), ids
