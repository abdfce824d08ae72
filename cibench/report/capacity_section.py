"""The capacity part of the run report: each SLO search's or ladder's answer with its SLO, its
probes (load against every SLO metric, pass or break, with the limit drawn), the resource use
at each probe, and each soak's drift verdict with its windows."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cibench.artifacts import CapacityRow, ProbeRow, SoakVerdict
from cibench.artifacts.codec import label
from cibench.report import charts, page
from cibench.report.runview import ScenarioView

CAPACITY_CONTROLS = ("search", "ladder")
"""Control methods whose load points are probes or ladder steps."""
LOAD_COLUMN = {
    "concurrency": "concurrency",
    "rate": "request_rate",
    "input_length": "input_len",
    "output_length": "output_len",
}
"""`Search_Over` -> the perf-table column that holds a probe's load."""
LOAD_UNIT = {
    "concurrency": "concurrency",
    "rate": "request rate (req/s)",
    "input_length": "input length (tokens)",
    "output_length": "output length (tokens)",
}
RESOURCES = (
    ("AVG_SERVER_CPU(%)", "server CPU avg (%)"),
    ("MAX_SERVER_RSS(MB)", "server RSS max (MB)"),
    ("AVG_GPU_UTIL(%)", "GPU util avg (%)"),
    ("MAX_GPU_MEM(MB)", "GPU memory max (MB)"),
    ("AVG_GPU_POWER(W)", "GPU power avg (W)"),
    ("MAX_SERVER_RUNNING", "running max"),
    ("MAX_SERVER_WAITING", "waiting max"),
    ("MAX_SERVER_KV_CACHE", "KV cache max"),
    ("AVG_CLIENT_CPU(%)", "client CPU avg (%)"),
)
"""(summary column, label) of the resource use shown per probe (columns without data hidden)."""
CPU_SERIES = (("AVG_SERVER_CPU(%)", "server CPU"), ("AVG_GPU_UTIL(%)", "GPU util"))
SOAK_SERIES = (
    ("TP50_TTFT(s)", "TTFT P50"),
    ("TP50_TPOT(s)", "TPOT P50"),
    ("TP50_E2E(s)", "E2E P50"),
)


def slo_limits(slo_text: str) -> dict[str, float]:
    """`fail_rate=0.01,ttft_p99_s=0.5` (the `SLO` column) as {key: limit}; bad parts skipped."""
    limits: dict[str, float] = {}
    for part in slo_text.split(","):
        key, _, value = part.partition("=")
        try:
            limits[key.strip()] = float(value)
        except ValueError:
            continue
    return limits


def probes_of(found: CapacityRow, probes: Sequence[ProbeRow]) -> list[ProbeRow]:
    """The probes of one search (same load axis, shape and SLO), in probe order."""
    key = found.key
    mine = [
        probe
        for probe in probes
        if probe.search_over == key.search_over
        and label(probe.input_length) == key.input_len
        and label(probe.output_length) == key.output_len
        and probe.slo_hash == key.slo_hash
    ]
    # a rerun of the same search in one run directory starts again at probe 1: keep the last
    starts = [index for index, probe in enumerate(mine) if probe.probe == 1]
    return mine[starts[-1] :] if starts else mine


def answer_text(found: CapacityRow) -> str:
    """`max concurrency under SLO: 64` (or `none kept the SLO`)."""
    unit = LOAD_UNIT.get(found.search_over, found.search_over)
    answer = "none kept the SLO" if found.capacity is None else f"{found.capacity:g}"
    return f"max {unit} under SLO: {answer}"


def probe_points(view: ScenarioView, found: CapacityRow, probe: ProbeRow) -> pd.Series | None:
    """The perf row measured by one probe (its resource columns), or None when not found."""
    perf = view.perf
    if perf.empty or probe.load is None:
        return None
    column = LOAD_COLUMN.get(found.search_over, "concurrency")
    wanted = (
        perf["control_method"].isin(CAPACITY_CONTROLS)
        & (perf["backend"] == found.backend)
        & (perf[column] == label(probe.load))
    )
    if found.search_over != "input_length":
        wanted &= perf["input_len"] == label(probe.input_length)
    if found.search_over != "output_length":
        wanted &= perf["output_len"] == label(probe.output_length)
    rows = perf[wanted]
    return None if rows.empty else rows.iloc[-1]


def probe_table(view: ScenarioView, found: CapacityRow, probes: Sequence[ProbeRow]) -> pd.DataFrame:
    """One row per probe: load, verdict, each SLO metric measured, QPS, failures, resource use."""
    keys = list(slo_limits(found.slo)) or sorted({k for p in probes for k in p.measured})
    rows = []
    for probe in probes:
        row: dict[str, object] = {
            "probe": probe.probe,
            "load": probe.load,
            "verdict": probe.verdict,
        }
        for key in keys:
            row[key] = probe.measured.get(key)
        row["req/s"] = probe.qps
        row["fail rate"] = probe.fail_rate
        point = probe_points(view, found, probe)
        for column, name in RESOURCES:
            value = point.get(column) if point is not None else None
            row[name] = None if value is None or pd.isna(value) else value
        row["breaches"] = probe.breaches
        rows.append(row)
    table = pd.DataFrame(rows)
    empty = [name for _, name in RESOURCES if name in table and table[name].isna().all()]
    return table.drop(columns=empty)


def _verdict_series(probes: Sequence[ProbeRow], key: str, scale: float) -> list[charts.Series]:
    """Measured value against load: the curve in probe-load order, then pass / break markers."""
    ordered = sorted((p for p in probes if p.load is not None), key=lambda p: p.load or 0.0)

    def values(chosen: Sequence[ProbeRow]) -> list[float | None]:
        out: list[float | None] = []
        for probe in chosen:
            value = probe.measured.get(key)
            out.append(None if value is None else value * scale)
        return out

    series = [
        charts.Series(
            "measured",
            [p.load or 0.0 for p in ordered],
            values(ordered),
            "#8c9eb5",
            markers=False,
        )
    ]
    for name, colour, wanted in (("pass", "#2ca02c", True), ("break", "#d62728", False)):
        chosen = [p for p in ordered if (p.verdict == "pass") == wanted]
        if chosen:
            series.append(
                charts.Series(
                    name,
                    [p.load or 0.0 for p in chosen],
                    values(chosen),
                    colour,
                    connected=False,
                    annotations=[f"#{p.probe}" for p in chosen],
                )
            )
    return series


def probe_chart(
    chart_id: str, found: CapacityRow, probes: Sequence[ProbeRow], key: str, limit: float
) -> str:
    """One SLO metric against the load of every probe, the limit drawn dotted."""
    seconds = key.endswith("_s")
    scale = 1e3 if seconds else 1.0
    unit = " (ms)" if seconds else ""
    return charts.line_chart(
        chart_id,
        _verdict_series(probes, key, scale),
        title=f"{key} per probe",
        xlabel=LOAD_UNIT.get(found.search_over, found.search_over),
        ylabel=f"{key}{unit}",
        reference=limit * scale,
        reference_label=f"SLO {limit:g}{' s' if seconds else ''}",
    )


def resource_chart(chart_id: str, found: CapacityRow, table: pd.DataFrame) -> str | None:
    """Server CPU and GPU utilisation (averages) per probe load; None when neither was sampled."""
    ordered = table.sort_values("load", kind="stable")
    series = []
    names = dict(RESOURCES)
    for index, (column, title) in enumerate(CPU_SERIES):
        name = names[column]
        if name not in ordered:
            continue
        series.append(
            charts.Series(
                title,
                [float(v) for v in ordered["load"]],
                [None if pd.isna(v) else float(v) for v in ordered[name]],
                charts.colour(index),
            )
        )
    if not series:
        return None
    return charts.line_chart(
        chart_id,
        series,
        title="resource use per probe",
        xlabel=LOAD_UNIT.get(found.search_over, found.search_over),
        ylabel="% (100 = one core / one GPU)",
    )


def search_block(view: ScenarioView, found: CapacityRow, slug: str) -> tuple[str, list[str]]:
    """One search's or ladder's answer, SLO, probe charts, probe table; and its chart ids."""
    probes = probes_of(found, view.probes)
    kind = "ladder" if found.resolution is None else "SLO search"
    name = (
        f"{kind} over {found.search_over} · {found.backend} in{label(found.input_length)} "
        f"out{label(found.output_length)}"
    )
    base = (
        f"{slug}-capacity-{found.search_over}-{found.backend}-in{label(found.input_length)}"
        f"-out{label(found.output_length)}-{found.slo_hash}"
    )
    facts = [
        ("SLO", f"{found.slo} (hash {found.slo_hash})"),
        ("lowest breaking", page.format_number(found.lowest_breaking)),
        ("resolution", page.format_number(found.resolution)),
        ("stopped", found.stop_reason),
        ("resolved", {True: "yes", False: "no", None: "-"}[found.converged]),
        ("probes", page.format_number(found.probes)),
        ("elapsed", f"{found.elapsed_s:.0f} s" if found.elapsed_s is not None else "-"),
    ]
    blocks = [
        page.note(answer_text(found), problem=found.capacity is None or not found.converged),
        page.facts(facts),
    ]
    ids: list[str] = []
    if not probes:
        blocks.append(page.note("No probes_*.csv rows for this search: probes not drawn."))
        return page.section(name, "\n".join(blocks), 4), ids
    figures = []
    for key, limit in slo_limits(found.slo).items():
        plot_id = f"{base}-{key}"
        ids.append(plot_id)
        figures.append(page.figure(plot_id, probe_chart(plot_id, found, probes, key, limit)))
    table = probe_table(view, found, probes)
    resources = resource_chart(f"{base}-resources", found, table)
    if resources is not None:
        ids.append(f"{base}-resources")
        figures.append(page.figure(f"{base}-resources", resources))
    blocks.append(page.plots(figures))
    blocks.append(page.table(table, status_columns=("verdict",)))
    return page.section(name, "\n".join(blocks), 4), ids


def soak_block(
    view: ScenarioView, soak: SoakVerdict, slug: str, index: int
) -> tuple[str, list[str]]:
    """One soak's drift verdict (first vs last window, trend) and its windows over time."""
    verdict = soak.rows[0].verdict if soak.rows else "no verdict"
    windows = soak.rows[0].windows if soak.rows else None
    table = pd.DataFrame(
        [
            {
                "metric": row.metric,
                "first window": row.first,
                "last window": row.last,
                "change": row.change,
                "trend": row.trend,
                "drift": "drift" if row.drift else "stable",
            }
            for row in soak.rows
        ]
    )
    blocks = [
        page.note(
            f"{soak.name}: {verdict} over {page.format_number(windows)} windows "
            "(change and trend are relative; absolute for failure_ratio)",
            problem=verdict == "drift",
        ),
        page.table(table, status_columns=("drift",)),
    ]
    ids: list[str] = []
    frame = view.soak_windows
    if index == len(view.soaks) - 1 and not frame.empty:
        plot_id = f"{slug}-soak-windows"
        xs = [float(i + 1) for i in range(len(frame))]
        series = [
            charts.Series(
                name,
                xs,
                [None if pd.isna(v) else float(v) * 1e3 for v in frame.get(column, [])],
                charts.colour(i),
            )
            for i, (column, name) in enumerate(SOAK_SERIES)
            if column in frame
        ]
        ids.append(plot_id)
        chart = charts.line_chart(
            plot_id, series, title="latency per soak window", xlabel="window", ylabel="ms"
        )
        blocks.append(page.plots([page.figure(plot_id, chart)]))
    return page.section(f"Soak · verdict {verdict}", "\n".join(blocks), 4), ids


def capacity_section(view: ScenarioView, slug: str) -> tuple[str, list[str]] | None:
    """The scenario's capacity HTML and chart ids; None when it has no search, ladder or soak."""
    if not view.capacity and not view.soaks:
        return None
    blocks: list[str] = []
    ids: list[str] = []
    for found in view.capacity:
        html, found_ids = search_block(view, found, slug)
        blocks.append(html)
        ids += found_ids
    for index, soak in enumerate(view.soaks):
        html, found_ids = soak_block(view, soak, slug, index)
        blocks.append(html)
        ids += found_ids
    return "\n".join(blocks), ids
