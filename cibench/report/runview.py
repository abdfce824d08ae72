"""Read one run directory into the tables the reports draw (`RunView`): the reports' only reader.

Everything the HTML report, the comparison and the Excel export show comes through here, so
moving to another run-directory reader changes this module only. Tables are pandas frames
with the on-disk column names (`TP99_TTFT(s)`, `QPS`, ...) plus a readable `point` label.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cibench.artifacts import (
    CapacityRow,
    LoadPointKey,
    PerfSummaryRow,
    ProbeRow,
    RunReader,
    RunResults,
    ScenarioResults,
    SoakVerdict,
    read_run,
)
from cibench.artifacts.codec import read_cells
from cibench.errors import CibenchError
from cibench.gates.rules import Verdict

GATES_FILE = "gates.json"
CAPABILITIES_FILE = "capabilities.json"
KEY_COLUMNS = (
    "control_method",
    "backend",
    "concurrency",
    "request_rate",
    "input_len",
    "output_len",
)
"""Columns of `ScenarioView.perf` that identify a load point (label strings)."""
_REQUESTS_NAME = re.compile(
    r"^requests_.*_(?P<control>[a-z]+)_concurrency(?P<concurrency>\d+)_(?P<backend>[a-z-]+)"
    r"_input(?P<input>\d+)_output(?P<output>\d+)_.*\.csv$"
)


@dataclass(slots=True)
class AccuracyView:
    """One accuracy run of a scenario: the score and, when the JSON has them, per-sample rows."""

    dataset: str
    variant: str
    score: float | None
    std: float | None
    n: int | None
    threshold: float | None
    passed: bool | None
    synthetic: bool = False
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(slots=True)
class ScenarioView:
    """One scenario of a run, as tables."""

    scenario: str
    model: str
    hardware: str
    quant: str
    mode: str
    engine_version: str
    launch_error: str | None
    expected_stages: tuple[str, ...]
    perf: pd.DataFrame
    """One row per load point: `KEY_COLUMNS`, `point`, then every summary column."""
    requests: dict[str, pd.DataFrame]
    """Per-request rows by `point` label (only the load points whose requests file was found)."""
    functional: pd.DataFrame
    """suite, case_id, status, reason, duration_s, evidence (the probe's finding for skips)."""
    accuracy: list[AccuracyView]
    problems: list[str]
    capacity: list[CapacityRow] = field(default_factory=list)
    """SLO-search and ladder answers (`capacity_*.csv`)."""
    probes: list[ProbeRow] = field(default_factory=list)
    """Their probes / steps (`probes_*.csv`); each is also a row of `perf` (its resource use)."""
    soaks: list[SoakVerdict] = field(default_factory=list)
    """Drift verdicts (`soak_*.csv`)."""
    soak_windows: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per soak window, in order (same columns as `perf`)."""


@dataclass(slots=True)
class RunView:
    """One run directory: identity, gates and each scenario's tables."""

    run_dir: Path
    run_id: str
    run_type: str
    commit: str
    branch: str
    start_s: float | None
    end_s: float | None
    cibench_version: str
    scenarios: list[ScenarioView]
    verdicts: list[Verdict]
    """Every verdict of `gates.json` (empty when there is none)."""
    has_gates: bool
    """Whether the run has a `gates.json`."""
    gates_failed: bool | None
    """`gates.json` `failed`; None when there is no gates.json."""

    def gates(self) -> pd.DataFrame:
        """One row per verdict (the `gates.json` fields)."""
        return pd.DataFrame([verdict_record(verdict) for verdict in self.verdicts])

    def scenario(self, scenario_id: str) -> ScenarioView | None:
        """The view of one scenario, or None when the run does not have it."""
        return next((view for view in self.scenarios if view.scenario == scenario_id), None)


def point_label(key: LoadPointKey) -> str:
    """The readable id of a load point (`fixed/threading-pool c4 in128 out128`)."""
    return key.describe()


def _perf_table(results: ScenarioResults) -> pd.DataFrame:
    table = _point_rows(results.perf)
    if table.empty:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "point"])
    order = ["control_method", "backend"]
    lengths = ["_i", "_o"]
    numeric = table["concurrency"].map(_as_float)
    rate = table["request_rate"].map(_as_float)
    table = table.assign(
        _c=numeric,
        _r=rate,
        _i=table["input_len"].map(_as_float),
        _o=table["output_len"].map(_as_float),
    ).sort_values([*order, *lengths, "_r", "_c"], kind="stable")
    return table.drop(columns=["_c", "_r", *lengths]).reset_index(drop=True)


def _point_rows(points: list[PerfSummaryRow]) -> pd.DataFrame:
    """One row per summary row, in the given order: `KEY_COLUMNS`, `point`, the summary cells."""
    rows: list[dict[str, Any]] = []
    for point in points:
        key = point.key
        row: dict[str, Any] = {
            "control_method": key.control_method,
            "backend": key.backend,
            "concurrency": key.concurrency,
            "request_rate": key.request_rate,
            "input_len": key.input_len,
            "output_len": key.output_len,
            "point": point_label(key),
        }
        row.update(
            {name: _cell(value) for name, value in point.to_cells().items() if name not in row}
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(text: str) -> float | str | None:
    """A CSV cell as a number when it is one; empty and `-1` (no data) are None."""
    stripped = text.strip()
    if stripped in ("", "-1", "-1.0"):
        return None
    try:
        return float(stripped)
    except ValueError:
        return stripped


def _as_float(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return float("nan")


def _requests_tables(
    directory: Path, perf: pd.DataFrame, problems: list[str]
) -> dict[str, pd.DataFrame]:
    """Per-request rows matched to load points by the file name's control, backend and lengths.

    Request files do not carry the request rate, so open-loop points that share the rest of
    their key are matched in file (time) order.
    """
    tables: dict[str, pd.DataFrame] = {}
    if perf.empty:
        return tables
    for path in sorted((directory / "perf").glob("requests_*.csv")):
        match = _REQUESTS_NAME.match(path.name)
        if match is None:
            continue
        wanted = (
            (perf["control_method"] == match["control"])
            & (perf["backend"] == match["backend"])
            & (perf["concurrency"] == match["concurrency"])
            & (perf["input_len"] == match["input"])
            & (perf["output_len"] == match["output"])
        )
        for label in perf.loc[wanted, "point"]:
            if label not in tables:
                try:
                    cells = read_cells(path)
                    tables[label] = pd.DataFrame(
                        [{k: _cell(v) for k, v in row.items()} for row in cells]
                    )
                except (OSError, UnicodeDecodeError, ValueError) as exc:
                    problems.append(f"{path}: cannot read requests ({exc}).")
                break
    # file names sort as text (concurrency16 before concurrency4): keep the perf table's order
    return {label: tables[label] for label in perf["point"] if label in tables}


def _evidence(directory: Path) -> dict[str, str]:
    """capability -> `verdict: evidence` from `capabilities.json` (empty when absent)."""
    path = directory / CAPABILITIES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, dict):
        return {}
    out: dict[str, str] = {}
    for name, finding in findings.items():
        if isinstance(finding, dict):
            out[str(name)] = f"{finding.get('support', '?')}: {finding.get('evidence', '')}"
    return out


def _functional_table(results: ScenarioResults, evidence: dict[str, str]) -> pd.DataFrame:
    rows = []
    for case in results.functional:
        probe = ""
        if case.skipped:
            # a skip reason names the capability it lacks; show what the probe saw for it
            probe = "; ".join(
                f"{name}: {text}" for name, text in evidence.items() if f"'{name}'" in case.reason
            )
        rows.append(
            {
                "suite": case.suite,
                "case_id": case.case_id,
                "status": case.status,
                "reason": case.reason,
                "duration_s": case.duration_s,
                "evidence": probe,
            }
        )
    columns = ["suite", "case_id", "status", "reason", "duration_s", "evidence"]
    return pd.DataFrame(rows, columns=columns)


def _accuracy_samples(directory: Path, dataset: str) -> tuple[pd.DataFrame, bool]:
    """Per-sample rows from the newest `accuracy/<dataset>_*.json` (empty when it has none)."""
    paths = sorted((directory / "accuracy").glob(f"{dataset}_*.json"), key=lambda p: p.name)
    for path in reversed(paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        samples = data.get("samples") if isinstance(data, dict) else None
        synthetic = bool(data.get("synthetic")) if isinstance(data, dict) else False
        return pd.DataFrame(samples if isinstance(samples, list) else []), synthetic
    return pd.DataFrame(), False


def _scenario_view(run_dir: Path, results: ScenarioResults) -> ScenarioView:
    directory = run_dir / results.scenario
    problems = list(results.problems)
    perf = _perf_table(results)
    accuracy = []
    for row in results.accuracy:
        samples, synthetic = _accuracy_samples(directory, row.dataset)
        accuracy.append(
            AccuracyView(
                dataset=row.dataset,
                variant=row.variant,
                score=row.score,
                std=row.std,
                n=row.n,
                threshold=row.threshold,
                passed=row.passed,
                synthetic=synthetic or row.variant == "synthetic",
                samples=samples,
            )
        )
    return ScenarioView(
        scenario=results.scenario,
        model=results.served_model_name or results.model,
        hardware=results.hardware,
        quant=results.quant,
        mode=results.mode,
        engine_version=results.vllm_version or "",
        launch_error=results.launch_error,
        expected_stages=results.expected_stages,
        perf=perf,
        requests=_requests_tables(directory, perf, problems),
        functional=_functional_table(results, _evidence(directory)),
        accuracy=accuracy,
        problems=problems,
        capacity=list(results.capacity),
        probes=list(results.probes),
        soaks=list(results.soaks),
        soak_windows=_point_rows(results.soak_windows),
    )


def _gates(run_dir: Path) -> tuple[list[Verdict] | None, bool | None]:
    gates = RunReader(run_dir).gates()
    if gates is None:
        return None, None
    verdicts = [Verdict.from_record(record) for record in gates.verdicts]
    return verdicts, gates.failed


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    """A verdict as a table row (the `gates.json` fields)."""
    return {
        "gate": verdict.gate,
        "stage": verdict.stage,
        "scenario": verdict.scenario,
        "subject": verdict.subject,
        "metric": verdict.metric,
        "baseline": verdict.baseline,
        "current": verdict.current,
        "delta": verdict.delta,
        "threshold": verdict.threshold,
        "verdict": verdict.status,
        "detail": verdict.detail,
    }


def view_from_results(run: RunResults) -> RunView:
    """Build the view from already collected results (the post-session step has them)."""
    verdicts, gates_failed = _gates(run.run_dir)
    return RunView(
        run_dir=run.run_dir,
        run_id=run.run_id,
        run_type=run.run_type,
        commit=run.commit,
        branch=run.branch,
        start_s=run.start_s,
        end_s=run.end_s,
        cibench_version=run.cibench_version,
        scenarios=[_scenario_view(run.run_dir, results) for results in run.scenarios],
        verdicts=verdicts or [],
        has_gates=verdicts is not None,
        gates_failed=gates_failed,
    )


def load_run(run_dir: Path) -> RunView:
    """Read `run_dir` (an `artifacts/<run_id>/` directory); `CibenchError` when it is not one."""
    if not run_dir.is_dir():
        raise CibenchError(
            f"{run_dir}: not a directory. Pass a run directory such as artifacts/<run_id>/."
        )
    return view_from_results(read_run(run_dir))
