"""Turn series tables into small, self-contained SVG charts (matplotlib, no pyplot state).

Every function returns SVG text ready to inline in HTML: text stays text (`svg.fonttype:
none`, so the page's font draws it and the file stays small), no date or random ids (the same
data gives the same bytes), and element ids carry a per-chart prefix so that many charts can
share one page. matplotlib is imported here only; it is the `reports` extra.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
"""Colours in series order (matplotlib's tab10, reordered so the first two contrast most)."""
WIDTH_IN = 3.9
HEIGHT_IN = 2.8
CDF_LEVELS = 200
"""A CDF is drawn through at most this many quantiles, so its size does not grow with requests."""
_RC: dict[Any, Any] = {  # matplotlib types its keys as a Literal of every rc name
    "svg.fonttype": "none",
    "svg.hashsalt": "cibench",
    "font.size": 8.5,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
}


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: x/y values (None = no data, left as a gap) and how to draw it."""

    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    color: str | None = None
    dashed: bool = False
    markers: bool = True
    step: bool = False
    annotations: Sequence[str] = ()
    """Text written beside each point (e.g. the concurrency), empty for none."""
    connected: bool = True
    """False: markers only, no line between the points (e.g. pass/break verdicts)."""


def colour(index: int) -> str:
    """The palette colour of the `index`-th series (cycling)."""
    return PALETTE[index % len(PALETTE)]


def _new_figure(width_in: float, height_in: float) -> Figure:
    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasSVG(figure)
    return figure


def _scope_ids(svg: str, prefix: str) -> str:
    """Prefix every `id` and its references so that charts on one page never share an id."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg
    pattern = re.compile(r'(\bid="|#)(' + "|".join(re.escape(i) for i in ids) + r')(?=["\)])')
    return pattern.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def to_svg(figure: Figure, chart_id: str) -> str:
    """The figure as inline SVG text (no XML prolog, ids prefixed with `chart_id`)."""
    buffer = io.StringIO()
    with rc_context(_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # the RDF metadata block only names matplotlib; dropping it saves bytes on every chart
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    return _scope_ids(text, safe)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None or not math.isfinite(v) else float(v) for v in values]


def line_chart(
    chart_id: str,
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    ylim_zero: bool = True,
    width_in: float = WIDTH_IN,
    height_in: float = HEIGHT_IN,
    note: str = "",
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """Lines (or steps) sharing one x axis; `note` is drawn when there is nothing to plot.

    :param reference: a horizontal dotted line (e.g. an SLO limit), when given.
    """
    with rc_context(_RC):
        figure = _new_figure(width_in, height_in)
        axes = figure.add_subplot()
        drawn = 0
        for index, line in enumerate(series):
            ys = _finite(line.y)
            if not any(math.isfinite(v) for v in ys):
                continue
            drawn += 1
            axes.plot(
                list(line.x),
                ys,
                label=line.label,
                color=line.color or colour(index),
                linestyle="none" if not line.connected else ("--" if line.dashed else "-"),
                marker=("o" if not line.dashed else "s") if line.markers else None,
                markersize=3.5 if line.connected else 5.5,
                linewidth=1.4,
                alpha=0.75 if line.dashed else 1.0,
                drawstyle="steps-post" if line.step else "default",
            )
            for x, y, text in zip(line.x, ys, line.annotations, strict=False):
                if text and math.isfinite(y):
                    axes.annotate(
                        text, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6.5
                    )
        if reference is not None and drawn:
            axes.axhline(
                reference, color="#57606a", linestyle=":", linewidth=1.2, label=reference_label
            )
        if logx and drawn:
            axes.set_xscale("log", base=2)
            ticks = sorted({float(x) for line in series for x in line.x if x > 0})
            axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
            axes.minorticks_off()
        if ylim_zero and drawn:
            axes.set_ylim(bottom=0)
        axes.set_title(title, fontsize=9.5, loc="left")
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        if drawn:
            axes.legend(loc="best")
        else:
            axes.text(
                0.5, 0.5, note or "no data", ha="center", va="center", transform=axes.transAxes
            )
        return to_svg(figure, chart_id)


def bar_chart(
    chart_id: str,
    categories: Sequence[str],
    stacks: Mapping[str, Sequence[float]],
    *,
    title: str,
    ylabel: str,
    colours: Mapping[str, str] | None = None,
    grouped: bool = False,
    width_in: float = WIDTH_IN,
    height_in: float = HEIGHT_IN,
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """Bars per category: stacked (default) or side by side (`grouped`), one colour per stack.

    :param reference: a horizontal line (e.g. a limit or the first run's value), when given.
    """
    with rc_context(_RC):
        figure = _new_figure(width_in, height_in)
        axes = figure.add_subplot()
        positions = np.arange(len(categories), dtype=float)
        bottom = np.zeros(len(categories))
        count = max(len(stacks), 1)
        width = 0.8 / count if grouped else 0.6
        for index, (name, values) in enumerate(stacks.items()):
            heights = np.array(_finite(list(values)), dtype=float)
            heights = np.nan_to_num(heights, nan=0.0)
            colour_of = (colours or {}).get(name, colour(index))
            if grouped:
                offsets = positions - 0.4 + width * (index + 0.5)
                axes.bar(offsets, heights, width=width, label=name, color=colour_of)
            else:
                axes.bar(
                    positions, heights, width=width, bottom=bottom, label=name, color=colour_of
                )
                bottom = bottom + heights
        if reference is not None:
            axes.axhline(reference, color="#444", linestyle=":", linewidth=1, label=reference_label)
        axes.set_xticks(positions, list(categories), rotation=25, ha="right", fontsize=7)
        axes.set_title(title, fontsize=9.5, loc="left")
        axes.set_ylabel(ylabel)
        axes.grid(axis="x", visible=False)
        if stacks or reference is not None:
            axes.legend(loc="best")
        return to_svg(figure, chart_id)


def cdf_points(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """(x, cumulative fraction) of the values, through at most `CDF_LEVELS` quantiles."""
    data = np.sort(np.array([v for v in values if math.isfinite(v)], dtype=float))
    if data.size == 0:
        return [], []
    if data.size <= CDF_LEVELS:
        fractions = np.arange(1, data.size + 1) / data.size
        return data.tolist(), fractions.tolist()
    fractions = np.linspace(1 / CDF_LEVELS, 1.0, CDF_LEVELS)
    return np.quantile(data, fractions).tolist(), fractions.tolist()


def cdf_chart(
    chart_id: str,
    samples: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    width_in: float = WIDTH_IN,
    height_in: float = HEIGHT_IN,
) -> str:
    """One empirical CDF (step line) per named sample."""
    series = []
    for index, (name, values) in enumerate(samples.items()):
        xs, ys = cdf_points(values)
        series.append(Series(name, xs, list(ys), color=colour(index), markers=False, step=True))
    return line_chart(
        chart_id,
        series,
        title=title,
        xlabel=xlabel,
        ylabel="fraction of requests",
        ylim_zero=True,
        width_in=width_in,
        height_in=height_in,
        note="no successful requests",
    )
