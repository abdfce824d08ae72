"""Write one accuracy run's files: the simple-evals-style JSON and an escaped HTML report.

The `accuracy.csv` row goes through `cibench.artifacts.ScenarioWriter.record_accuracy`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cibench.accuracy.gpqa import Aggregate, GpqaSample, SampleScore
from cibench.accuracy.sampler import SamplerResponse


@dataclass(frozen=True, slots=True)
class SampleResult:
    """One prompt, what the server said and what it scored."""

    sample: GpqaSample
    response: SamplerResponse
    score: SampleScore


def sanitize_model(model: str) -> str:
    """A served model name made safe for a file name (`Qwen/Qwen3-8B` -> `Qwen_Qwen3-8B`)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._")
    return cleaned or "model"


def output_paths(directory: Path, dataset: str, model: str, timestamp: str) -> tuple[Path, Path]:
    """`<dir>/<dataset>_<model>_<ts>.json` and `.html`, with a counter added when taken."""
    stem = f"{dataset}_{sanitize_model(model)}_{timestamp}"
    candidate = stem
    counter = 1
    # names are built by appending: Path.with_suffix would cut "Qwen2.5-7B" at its dot
    while (directory / f"{candidate}.json").exists() or (directory / f"{candidate}.html").exists():
        candidate = f"{stem}_{counter}"
        counter += 1
    return directory / f"{candidate}.json", directory / f"{candidate}.html"


def metrics_dict(result: Aggregate) -> dict[str, float | int]:
    """The simple-evals metric keys: `score`, `score:std`, `chars`, `chars:std`, `n_samples`."""
    return {
        "chars": result.chars,
        "chars:std": result.chars_std,
        "n_samples": result.n_samples,
        "score": result.score,
        "score:std": result.score_std,
    }


def write_json(
    path: Path,
    result: Aggregate,
    config: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> None:
    """The metrics (simple-evals keys, sorted) plus `config` (the profile echo) and `extra`."""
    document: dict[str, Any] = {**metrics_dict(result), **extra, "config": dict(config)}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _block(label: str, text: str | None) -> str:
    shown = "(none)" if text is None else html.escape(text)
    return f"<h4>{html.escape(label)}</h4>\n<pre>{shown}</pre>\n"


def render_html(
    title: str,
    result: Aggregate,
    results: Sequence[SampleResult],
    conversations: bool,
    notice: str | None = None,
) -> str:
    """A standalone HTML page: metrics table, then each sample (conversation text escaped)."""
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "pre{white-space:pre-wrap;background:#f4f4f4;padding:.5em}"
        ".ok{color:#070}.bad{color:#a00}td,th{padding:0 1em;text-align:left}</style>",
        f"</head><body>\n<h1>{html.escape(title)}</h1>",
    ]
    if notice:
        parts.append(f"<p><strong>{html.escape(notice)}</strong></p>")
    parts.append("<table>")
    for key, value in metrics_dict(result).items():
        parts.append(f"<tr><th>{html.escape(key)}</th><td>{value:.4g}</td></tr>")
    parts.append("</table>")
    for item in results:
        sample, response, score = item.sample, item.response, item.score
        verdict = "ok" if score.score > 0 else "bad"
        parts.append(
            f"<hr>\n<h3 class='{verdict}'>sample {sample.index} (question {sample.row_index}): "
            f"score {score.score:g}, gold {sample.gold}, extracted "
            f"{html.escape(score.extracted or '(none)')}</h3>"
        )
        if response.error:
            parts.append(f"<p class='bad'>error: {html.escape(response.error)}</p>")
        if response.finish_reason:
            parts.append(f"<p>finish_reason: {html.escape(response.finish_reason)}</p>")
        if conversations:
            parts.append(_block("user", sample.prompt))
            if response.reasoning is not None:
                parts.append(_block("reasoning", response.reasoning))
            parts.append(_block("assistant", response.content))
    parts.append("</body></html>\n")
    return "\n".join(parts)
