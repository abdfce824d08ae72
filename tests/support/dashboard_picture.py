"""`python -m tests.support.dashboard_picture OUT.png`: a picture of the dashboard with real data.

Grafana itself is not available here, so this draws what the dashboard would show: it starts the
real Pushgateway + Prometheus of `tests.support.dashboard_stack` (a week of daily runs of two
scenarios), runs every panel target of `dashboards/vllm_cibench.json` through Prometheus' HTTP
API with the same PromQL and variable expansion as the dashboard test, renders the answers as an
HTML page (SVG line charts, tables, stats, two panels a line as in the dashboard's grid) and
screenshots it with headless Chromium. The values are exactly what the queries returned; the
styling is this module's, not Grafana's.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cibench.dashboard_queries import (
    PrometheusApi,
    Series,
    expand,
    panel_targets,
    resolve_variables,
    substitutions,
)

Answers = dict[tuple[str, str], list[Series]]
PAGE_WIDTH = 1400
CHART_WIDTH = 640
CHART_HEIGHT = 200
PANEL_HEIGHT = 330
ROW_HEIGHT = 44
HEADER_HEIGHT = 90
COLORS = ("#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a")
HIDDEN_LABELS = frozenset({"__name__", "job", "instance", "run_type"})


def panel_answers(
    dashboard: Mapping[str, Any], api: PrometheusApi, start: float, end: float
) -> Answers:
    """(panel title, refId) -> what the target returns when the panel runs it."""
    values = substitutions(dashboard, resolve_variables(dashboard, api, start, end))
    return {
        (target.panel, target.ref_id): api.run(target, expand(target.expr, values), start, end)
        for target in panel_targets(dashboard)
    }


def legend(template: str, labels: Mapping[str, str]) -> str:
    """Grafana's legend format: `{{name}}` replaced by the series' label value."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m[1], ""), template).strip()


def _number(value: float) -> str:
    return f"{value:.4g}"


def svg_chart(series: Sequence[tuple[str, Series]], start: float, end: float, unit: str) -> str:
    """A line chart of (legend, series) over [start, end] with a zero-based y axis."""
    top = max((value for _, s in series for _, value in s.points), default=1.0) * 1.1 or 1.0
    left, bottom = 56, 20

    def x(t: float) -> float:
        return left + (t - start) / (end - start) * (CHART_WIDTH - left - 8)

    def y(v: float) -> float:
        return 8 + (1 - v / top) * (CHART_HEIGHT - bottom - 8)

    parts = [
        f'<svg width="{CHART_WIDTH}" height="{CHART_HEIGHT}" role="img">',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{CHART_WIDTH - 8}" y2="{y(0):.1f}" class="axis"/>',
    ]
    for fraction in (0.5, 1.0):
        value = top / 1.1 * fraction
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{CHART_WIDTH - 8}" y2="{y(value):.1f}" '
            f'class="grid"/><text x="{left - 4}" y="{y(value) + 4:.1f}" class="tick" '
            f'text-anchor="end">{_number(value)} {html.escape(unit)}</text>'
        )
    for days in range(8):
        t = end - days * 86400
        parts.append(
            f'<text x="{x(t):.1f}" y="{CHART_HEIGHT - 4}" class="tick" text-anchor="middle">'
            f"{'now' if days == 0 else f'-{days}d'}</text>"
        )
    for index, (_, item) in enumerate(series):
        color = COLORS[index % len(COLORS)]
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in item.points)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.extend(
            f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>'
            for t, v in item.points
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend_html(series: Sequence[tuple[str, Series]]) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{COLORS[i % len(COLORS)]}"></i>'
        f"{html.escape(name)} <b>{_number(item.last)}</b></span>"
        for i, (name, item) in enumerate(series)
    )
    return f'<div class="legend">{items}</div>'


def _mapped(panel: Mapping[str, Any], value: float) -> tuple[str, str]:
    """(text, css class) of a cell through the panel's value mappings (PASS/FAIL)."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    for mapping in defaults.get("mappings", []):
        option = mapping.get("options", {}).get(_number(value))
        if option:
            return str(option.get("text", _number(value))), str(option.get("color", ""))
    return _number(value), ""


def _table_html(panel: Mapping[str, Any], answers: Answers) -> str:
    """Rows keyed by the series' labels; one value column per target (merged as in Grafana)."""
    columns: list[str] = []
    rows: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for target in panel.get("targets", []):
        column = target.get("legendFormat") or "value"
        columns.append(column)
        for item in answers[(str(panel["title"]), str(target["refId"]))]:
            key = tuple(sorted((k, v) for k, v in item.labels.items() if k not in HIDDEN_LABELS))
            rows.setdefault(key, {})[column] = item.last
    names = sorted({name for key in rows for name, _ in key})
    header = "".join(f"<th>{html.escape(n)}</th>" for n in [*names, *columns])
    body = []
    for key, values in sorted(rows.items()):
        labels = dict(key)
        cells = [f"<td>{html.escape(labels.get(name, ''))}</td>" for name in names]
        for column in columns:
            if column in values:
                text, color = _mapped(panel, values[column])
                cells.append(f'<td class="num {color}">{html.escape(text)}</td>')
            else:
                cells.append("<td></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{header}</tr>{''.join(body)}</table>"


def panel_html(panel: Mapping[str, Any], answers: Answers, start: float, end: float) -> str:
    """One panel as it would look: chart + legend, table, or stat."""
    title = str(panel["title"])
    kind = panel.get("type")
    if kind == "table":
        content = _table_html(panel, answers)
    else:
        series = [
            (f"{legend(str(t.get('legendFormat', '')), s.labels)}", s)
            for t in panel.get("targets", [])
            for s in answers[(title, str(t["refId"]))]
        ]
        if kind == "stat":
            content = "".join(
                f'<div class="stat {"red" if s.last > 26 else "green"}">{_number(s.last)} h'
                f"<small>{html.escape(name)}</small></div>"
                for name, s in series
            )
        else:
            unit = str(panel.get("fieldConfig", {}).get("defaults", {}).get("unit", ""))
            unit = {"percentunit": "", "short": "", "reqps": "req/s"}.get(unit, unit)
            content = svg_chart(series, start, end, unit) + _legend_html(series)
    return f'<section class="panel"><h3>{html.escape(title)}</h3>{content}</section>'


STYLE = """
body { background:#111217; color:#ccccdc; font:13px/1.35 Inter, Helvetica, Arial, sans-serif;
       margin:0; padding:16px; width:%dpx; }
h1 { font-size:20px; margin:0 0 4px; color:#fff; } .note { color:#8e8e9e; margin-bottom:12px; }
h2 { font-size:15px; color:#fff; margin:14px 0 6px; border-bottom:1px solid #2c3235; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:10px; }
.panel { background:#181b1f; border:1px solid #2c3235; border-radius:3px; padding:8px;
         height:%dpx; overflow:hidden; }
.panel h3 { font-size:13px; margin:0 0 6px; color:#fff; }
svg .axis { stroke:#555; } svg .grid { stroke:#2c3235; } svg .tick { fill:#8e8e9e; font-size:10px; }
.legend { display:flex; flex-wrap:wrap; gap:2px 12px; font-size:11px; margin-top:4px; }
.key i { display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; }
table { border-collapse:collapse; font-size:11px; width:100%%; }
th, td { border-bottom:1px solid #2c3235; padding:2px 6px; text-align:left; }
td.num { text-align:right; } td.green { background:#1a7f37; color:#fff; }
td.red { background:#c4162a; color:#fff; }
.stat { font-size:34px; display:inline-block; margin:12px 24px; color:#73bf69; }
.stat.red { color:#f2495c; } .stat small { display:block; font-size:12px; color:#ccccdc; }
"""


def render_html(dashboard: Mapping[str, Any], answers: Answers, start: float, end: float) -> str:
    """The whole page: title, a note on how it was made, row headers and panel grids."""
    sections: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            sections.append(f'<div class="grid">{"".join(current)}</div>')
            current.clear()

    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            close()
            sections.append(f"<h2>{html.escape(str(panel['title']))}</h2>")
        else:
            current.append(panel_html(panel, answers, start, end))
    close()
    note = (
        "Every number below is what Prometheus answered to the dashboard's own PromQL (variables "
        "expanded, quantile 0.99) over a week of pushed daily runs; drawn by "
        "tests/support/dashboard_picture.py, not by Grafana."
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>"
        f"{STYLE % (PAGE_WIDTH - 32, PANEL_HEIGHT)}</style></head><body>"
        f"<h1>{html.escape(str(dashboard.get('title', '')))}</h1><div class='note'>{note}</div>"
        f"{''.join(sections)}</body></html>"
    )


def page_height(dashboard: Mapping[str, Any]) -> int:
    """Pixels the page needs: header, row titles and two panels a line."""
    height = HEADER_HEIGHT
    in_row = 0
    for panel in [*dashboard.get("panels", []), {"type": "row"}]:
        if panel.get("type") == "row":
            height += (in_row + 1) // 2 * (PANEL_HEIGHT + 10) + ROW_HEIGHT
            in_row = 0
        else:
            in_row += 1
    return height


def screenshot(chromium: str, page: Path, png: Path, height: int) -> None:
    """Headless Chromium's screenshot of `page` (a file) at PAGE_WIDTH x `height`."""
    with tempfile.TemporaryDirectory(prefix="cibench-chromium-") as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={PAGE_WIDTH},{height}",
                f"--screenshot={png}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"{chromium} could not screenshot {page}: {done.stderr[-1000:]}")


def chromium_binary() -> str | None:
    """Debian's `chromium` (or another name it goes by) on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Start the stack, query every panel, write OUT.html next to OUT.png and screenshot it."""
    from cibench.config.settings import Settings
    from cibench.dashboards import DASHBOARD_PATH
    from tests.support.dashboard_stack import WEEK_S, daily_stack, missing_tools

    parser = argparse.ArgumentParser(prog="python -m tests.support.dashboard_picture")
    parser.add_argument("png", type=Path, help="the picture to write (e.g. docs/dashboard.png)")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD_PATH)
    args = parser.parse_args(argv)
    chromium = chromium_binary()
    missing = missing_tools() + ([] if chromium else ["chromium"])
    if missing:
        print(f"dashboard_picture: apt-get install {' '.join(missing)}", file=sys.stderr)
        return 2
    assert chromium is not None
    dashboard = json.loads(args.dashboard.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="cibench-picture-") as scratch:
        with daily_stack(Path(scratch), Settings().metric_prefix, history_days=7) as stack:
            api = PrometheusApi(stack.prometheus)
            start = stack.now - WEEK_S
            answers = panel_answers(dashboard, api, start, stack.now)
            api.close()
        page = args.png.with_suffix(".html")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render_html(dashboard, answers, start, stack.now), encoding="utf-8")
        screenshot(chromium, page, args.png, page_height(dashboard))
    print(f"dashboard_picture: wrote {args.png} and {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
