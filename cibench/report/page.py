"""The HTML shell of every cibench report: one self-contained page, a style sheet, no script.

Reports build their body from `section`, `figure`, `facts` and `table` (a pandas frame
rendered with every cell escaped, and verdict-like cells coloured), then wrap it with `page`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 margin:0 auto;max-width:1200px;padding:0 16px 40px;color:#1b1f24;font-size:14px}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;
 border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.verdict{display:inline-block;padding:3px 12px;border-radius:12px;font-weight:600;
 font-size:15px;margin-left:8px}
.facts{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;
 margin:8px 0 4px}.facts dt{color:#57606a}.facts dd{margin:0;font-family:ui-monospace,monospace}
table.data{border-collapse:collapse;font-size:12.5px;margin:6px 0 10px}
table.data th,table.data td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;
 vertical-align:top}table.data th{background:#f6f8fa}
table.data td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}
.warn{background:#fff8c5;color:#7d4e00}.none{background:#eaeef2;color:#57606a}
span.pass,span.fail,span.warn,span.none{padding:1px 6px;border-radius:4px;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:10px}figure.plot{margin:0;border:1px solid #eaeef2;
 border-radius:6px;padding:4px}figure.plot svg{display:block;height:auto;max-width:100%}
.note{color:#57606a;font-size:12.5px}.problem{color:#a40e26}
details>summary{cursor:pointer;color:#0969da}
"""
STATUS_CLASS = {
    "pass": "pass",
    "ok": "pass",
    "fail": "fail",
    "harness-bound": "fail",
    "break": "fail",
    "server failing": "fail",
    "drift": "fail",
    "stable": "pass",
    "failed": "fail",
    "error": "fail",
    "skip": "none",
    "skipped": "none",
    "no baseline": "none",
    "no data": "warn",
    "warn": "warn",
}
"""Cell text (lower case) -> CSS class for verdict-like columns."""


def esc(value: object) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


def badge(text: str, status: str) -> str:
    """A coloured pill (`status` is pass, fail, warn or none)."""
    return f'<span class="{esc(status)}">{esc(text)}</span>'


def status_badge(text: str) -> str:
    """`text` as a badge coloured by what it says (PASS, fail, skip, no baseline, ...)."""
    return badge(text, STATUS_CLASS.get(text.strip().lower(), "none"))


def format_number(value: object) -> str:
    """Numbers with four significant digits; None and NaN as `-`; other values as text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return "-"
        if number == int(number) and abs(number) < 1e12:
            return str(int(number))
        return f"{number:.4g}"
    return str(value)


def table(
    frame: pd.DataFrame,
    *,
    status_columns: Sequence[str] = (),
    formatters: Mapping[str, Callable[[object], str]] | None = None,
    table_id: str = "",
) -> str:
    """`frame` as an HTML table: cells escaped, numbers formatted, status columns coloured.

    :param formatters: column -> function returning ready-made (already escaped) HTML.
    """
    if frame.empty:
        return '<p class="note">(none)</p>'
    formatters = dict(formatters or {})
    shown = frame.copy().astype(object)
    for column in shown.columns:
        if column in formatters:
            shown[column] = shown[column].map(formatters[column])
        elif column in status_columns:
            shown[column] = shown[column].map(lambda v: status_badge(format_number(v)))
        else:
            shown[column] = shown[column].map(lambda v: esc(format_number(v)))
    shown.columns = pd.Index([esc(c) for c in shown.columns])
    numeric = {
        esc(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and c not in formatters
    }
    text = shown.to_html(
        index=False, escape=False, border=0, classes="data", table_id=table_id or None
    )
    # right-align numeric columns: pandas gives no per-column class, so mark the cells by position
    if numeric:
        text = _align_numeric(text, [esc(c) in numeric for c in frame.columns])
    return text


def _align_numeric(text: str, numeric: list[bool]) -> str:
    out: list[str] = []
    column = 0
    for part in text.split("<td>"):
        if out:
            out.append('<td class="num">' if numeric[column % len(numeric)] else "<td>")
            column += 1
        out.append(part)
    return "".join(out)


def figure(plot_id: str, svg: str, caption: str = "") -> str:
    """One chart, tagged with `data-plot` so tests and readers can find it by name."""
    caption_html = f"<figcaption class='note'>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="plot" data-plot="{esc(plot_id)}">{svg}{caption_html}</figure>'


def plots(figures: Iterable[str]) -> str:
    """Charts laid out side by side, wrapping."""
    return '<div class="plots">' + "".join(figures) + "</div>"


def facts(pairs: Sequence[tuple[str, str]]) -> str:
    """A two-column grid of label: value pairs."""
    cells = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v or '-')}</dd>" for k, v in pairs)
    return f'<dl class="facts">{cells}</dl>'


def section(title: str, body: str, level: int = 2, anchor: str = "") -> str:
    """A heading and its body."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<h{level}{ident}>{esc(title)}</h{level}>\n{body}\n"


def note(text: str, problem: bool = False) -> str:
    """A small grey (or red, for a problem) paragraph."""
    return f'<p class="{"problem" if problem else "note"}">{esc(text)}</p>'


def page(title: str, body: str) -> str:
    """The whole document."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
