"""`run.xlsx`: one run's parameters, perf summary, requests, functional cases, accuracy, gates
and, when it searched for capacity, the answers and their probes.

Written with pandas and openpyxl (the `reports` extra). Numbers stay numbers (a cell that
reads `-1` on disk, "no data", is left empty) and every measured column names its unit.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from cibench.accuracy.interval import wilson_interval
from cibench.report.runview import RunView

REQUESTS_CAP = 50_000
"""Per-request rows written at most (Excel takes ~1M; past this the file gets slow to open)."""
UNITS = {
    "QPS": "QPS (req/s)",
    "Achieved_Rate": "Achieved_Rate (req/s)",
    "Fail_Rate": "Fail_Rate (ratio)",
    "Num_Requests": "Num_Requests (count)",
    "Success": "Success (count)",
    "Failures": "Failures (count)",
    "Token_Mismatch": "Token_Mismatch (count)",
    "concurrency": "concurrency (streams)",
    "request_rate": "request_rate (req/s)",
    "input_len": "input_len (tokens)",
    "output_len": "output_len (tokens)",
    "TTFT": "TTFT (s)",
    "TPOT": "TPOT (s)",
    "Start_Time": "Start_Time (s)",
    "End_Time": "End_Time (s)",
    "Prompt_Tokens": "Prompt_Tokens (tokens)",
    "Completion_Tokens": "Completion_Tokens (tokens)",
    "Total_Tokens": "Total_Tokens (tokens)",
    "duration_s": "duration (s)",
    "AVG_PROMPT_TOKENS": "AVG_PROMPT_TOKENS (tokens)",
    "AVG_COMPLETION_TOKENS": "AVG_COMPLETION_TOKENS (tokens)",
}
"""Column -> header with its unit, for columns whose on-disk name has none."""
DROPPED_REQUEST_COLUMNS = ("ITL(s)",)
"""Per-chunk gap lists: one text cell per request, too long for a sheet; see requests_*.csv."""


def numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns whose every non-empty cell is a number become numeric; `-1` (no data) -> empty."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        converted = pd.to_numeric(values.replace("", None), errors="coerce")
        present = values.notna() & (values.astype(str) != "")
        if present.any() and converted[present].notna().all():
            out[column] = converted.where(converted != -1)
    return out


def _with_units(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={c: UNITS.get(c, c) for c in frame.columns})


def parameters(run: RunView, notes: list[str]) -> pd.DataFrame:
    """Key/value rows: the run, then each scenario and the sampling settings of its perf."""
    rows: list[tuple[str, str, object]] = [
        ("run", "run id", run.run_id),
        ("run", "run type", run.run_type),
        ("run", "commit", run.commit),
        ("run", "branch", run.branch),
        ("run", "start (unix s)", run.start_s),
        ("run", "end (unix s)", run.end_s),
        ("run", "cibench version", run.cibench_version),
    ]
    profile_columns = ("Control_Method", "Backend", "Temperature", "Top_K", "Top_P", "Dataset",
                       "Provider", "Rounds", "Num_Prompts")  # fmt: skip
    for view in run.scenarios:
        where = f"scenario {view.scenario}"
        rows += [
            (where, "model", view.model),
            (where, "hardware", view.hardware),
            (where, "quant", view.quant),
            (where, "mode", view.mode),
            (where, "engine version", view.engine_version),
            (where, "stages", ", ".join(view.expected_stages)),
        ]
        for column in profile_columns:
            if column in view.perf.columns:
                values = sorted({str(v) for v in view.perf[column] if not pd.isna(v)})
                rows.append((f"{where} perf profile", column, ", ".join(values)))
    rows += [("note", str(index + 1), note) for index, note in enumerate(notes)]
    return pd.DataFrame(rows, columns=["section", "parameter", "value"])


def perf_summary(run: RunView) -> pd.DataFrame:
    """Every load point of every scenario."""
    frames = [
        view.perf.assign(scenario=view.scenario) for view in run.scenarios if not view.perf.empty
    ]
    if not frames:
        return pd.DataFrame(columns=["scenario"])
    table = pd.concat(frames, ignore_index=True)
    first = ["scenario", "point"]
    table = table[first + [c for c in table.columns if c not in first]]
    return _with_units(numeric(table))


def requests(run: RunView, cap: int = REQUESTS_CAP) -> tuple[pd.DataFrame, int]:
    """Per-request rows (at most `cap`) and how many there were in all."""
    frames = [
        frame.assign(scenario=view.scenario, point=label)
        for view in run.scenarios
        for label, frame in view.requests.items()
    ]
    if not frames:
        return pd.DataFrame(columns=["scenario", "point"]), 0
    table = pd.concat(frames, ignore_index=True)
    total = len(table)
    table = table.drop(columns=[c for c in DROPPED_REQUEST_COLUMNS if c in table.columns])
    first = ["scenario", "point"]
    table = table[first + [c for c in table.columns if c not in first]].head(cap)
    return _with_units(numeric(table)), total


def functional(run: RunView) -> pd.DataFrame:
    """Every functional case of every scenario."""
    frames = [view.functional.assign(scenario=view.scenario) for view in run.scenarios]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        return pd.DataFrame(columns=["scenario", "suite", "case_id", "status"])
    first = ["scenario"]
    return _with_units(table[first + [c for c in table.columns if c not in first]])


def accuracy(run: RunView) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per accuracy result with its 95% interval, one row per sample)."""
    rows, samples = [], []
    for view in run.scenarios:
        for result in view.accuracy:
            interval = (
                wilson_interval(result.score, result.n)
                if result.score is not None and result.n is not None
                else None
            )
            rows.append(
                {
                    "scenario": view.scenario,
                    "dataset": result.dataset,
                    "variant": result.variant,
                    "score (ratio)": result.score,
                    "95% low (Wilson)": interval[0] if interval else math.nan,
                    "95% high (Wilson)": interval[1] if interval else math.nan,
                    "std": result.std,
                    "samples (count)": result.n,
                    "threshold (ratio)": result.threshold,
                    "pass": result.passed,
                    "synthetic": result.synthetic,
                }
            )
            if not result.samples.empty:
                samples.append(
                    result.samples.assign(scenario=view.scenario, dataset=result.dataset)
                )
    sample_table = pd.concat(samples, ignore_index=True) if samples else pd.DataFrame()
    if not sample_table.empty:
        first = ["scenario", "dataset", "question", "sample", "gold", "extracted", "score"]
        order = [c for c in first if c in sample_table.columns]
        sample_table = sample_table[order + [c for c in sample_table.columns if c not in order]]
        sample_table = sample_table.rename(columns={"latency_s": "latency (s)"})
    return pd.DataFrame(rows), sample_table


def gates(run: RunView) -> pd.DataFrame:
    """Every gate verdict; `delta` as a ratio (0.12 = +12%)."""
    table = run.gates()
    if table.empty:
        return pd.DataFrame(columns=["gate", "verdict"])
    table["delta"] = pd.Series([v.delta for v in run.verdicts], dtype=float)
    return table.rename(columns={"delta": "delta (ratio)"})


def capacity(run: RunView) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per SLO search or ladder answer, one row per probe or step), CSV columns."""
    answers = [
        {"scenario": view.scenario, **row.to_cells()}
        for view in run.scenarios
        for row in view.capacity
    ]
    probes = [
        {"scenario": view.scenario, **row.to_cells()}
        for view in run.scenarios
        for row in view.probes
    ]
    return numeric(pd.DataFrame(answers)), numeric(pd.DataFrame(probes))


def write_xlsx(run: RunView, path: Path, cap: int = REQUESTS_CAP) -> Path:
    """Write the workbook; return its path."""
    request_rows, total = requests(run, cap)
    notes = []
    if total > len(request_rows):
        notes.append(
            f"requests: the first {len(request_rows)} of {total} per-request rows; every row is "
            "in the run's perf/requests_*.csv files."
        )
    if total:
        notes.append("requests: the per-chunk gaps (ITL(s)) are left out; see requests_*.csv.")
    notes.append("Empty numeric cells mean no data (written as -1 in the CSV files).")
    accuracy_rows, samples = accuracy(run)
    sheets = {
        "parameters": parameters(run, notes),
        "perf summary": perf_summary(run),
        "requests": request_rows,
        "functional": functional(run),
        "accuracy": accuracy_rows,
        "accuracy samples": samples,
        "gates": gates(run),
    }
    answers, probes = capacity(run)
    if not answers.empty or not probes.empty:
        sheets |= {"capacity": answers, "capacity probes": probes}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for index, column in enumerate(frame.columns):
                width = min(max(len(str(column)), 10) + 2, 48)
                sheet.column_dimensions[_letter(index)].width = width
    return path


def _letter(index: int) -> str:
    """Excel's column letters for a 0-based index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
