"""Read one run directory's artifacts (session, run, functional, perf, accuracy files) into results.

Files are read by header name, never by position. A missing or unreadable file is not an error
here: it becomes a line in `ScenarioResults.problems`, and an expected stage without results is
left for the completeness gate to report.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cibench.errors import CibenchError
from cibench.perf.csvio import read_summary

STAGES = ("functional", "perf", "accuracy")
FUNCTIONAL_FAILED_STATUSES = frozenset({"fail", "failed", "error"})
"""`functional.csv` statuses that count as a failure (`fail`; pytest's words accepted too)."""
FUNCTIONAL_SKIPPED_STATUSES = frozenset({"skip", "skipped", "xfail", "xfailed"})
"""Statuses of cases that did not run; any other status counts as a pass."""


class _FileModel(BaseModel):
    """Files written by other parts of cibench: unknown keys are tolerated, not fatal."""

    model_config = ConfigDict(extra="ignore")


class SessionScenarioFile(_FileModel):
    """One entry of `session.json` `scenarios`."""

    stages: list[str] = Field(default_factory=list)
    model: str = ""
    served_model_name: str | None = None
    quant: str = ""
    hardware: str = ""
    mode: str = ""


class SessionFile(_FileModel):
    """`artifacts/<run_id>/session.json`."""

    run_id: str
    run_type: str
    commit: str | None = None
    branch: str | None = None
    start: float | str | None = None
    end: float | str | None = None
    cibench_version: str | None = None
    scenarios: dict[str, SessionScenarioFile] = Field(default_factory=dict)


class RunFile(_FileModel):
    """`artifacts/<run_id>/<scenario>/run.json`."""

    scenario: str | None = None
    mode: str | None = None
    model: str | None = None
    served_model_name: str | None = None
    quant: str | None = None
    hardware: str | None = None
    server_version: Any = None
    launch_error: str | None = None


@dataclass(frozen=True, slots=True)
class LoadPointKey:
    """What identifies one perf load point across runs (all values as label strings)."""

    control_method: str
    backend: str
    concurrency: str
    input_len: str
    output_len: str
    growth_rate: str = ""
    """Only for `climb`."""
    request_rate: str = ""
    """Only for `poisson` (requests/s)."""

    def labels(self) -> dict[str, str]:
        """Prometheus labels of this load point (empty values left out)."""
        pairs = {
            "backend": self.backend,
            "control_method": self.control_method,
            "concurrency": self.concurrency,
            "input_len": self.input_len,
            "output_len": self.output_len,
            "growth_rate": self.growth_rate,
            "request_rate": self.request_rate,
        }
        return {name: value for name, value in pairs.items() if value}

    def describe(self) -> str:
        """A short readable id such as `fixed/threading-pool c4 in128 out128`."""
        text = f"{self.control_method}/{self.backend} "
        if self.request_rate:
            text += f"r{self.request_rate} "
        text += f"c{self.concurrency} in{self.input_len} out{self.output_len}"
        if self.growth_rate:
            text += f" g{self.growth_rate}"
        return text


@dataclass(slots=True)
class PerfPoint:
    """One row of a perf `summary_*.csv`; `-1` and empty cells are None."""

    key: LoadPointKey
    values: dict[str, float | None]
    source: str

    def value(self, column: str) -> float | None:
        """The value of a summary column, or None when absent or not available."""
        return self.values.get(column)


@dataclass(frozen=True, slots=True)
class FunctionalCase:
    """One row of a `functional*.csv`."""

    suite: str
    case_id: str
    status: str
    reason: str
    duration_s: float | None

    @property
    def failed(self) -> bool:
        """True for a failed or errored case."""
        return self.status in FUNCTIONAL_FAILED_STATUSES

    @property
    def skipped(self) -> bool:
        """True for a case that did not run (unsupported capability, deselected)."""
        return self.status in FUNCTIONAL_SKIPPED_STATUSES


@dataclass(frozen=True, slots=True)
class AccuracyResult:
    """One row of `accuracy.csv`."""

    dataset: str
    variant: str
    score: float | None
    std: float | None
    n: int | None
    threshold: float | None
    passed: bool | None
    model: str


@dataclass(slots=True)
class ScenarioResults:
    """Everything one scenario of a run produced, plus what was expected of it."""

    scenario: str
    expected_stages: tuple[str, ...]
    model: str
    served_model_name: str
    quant: str
    hardware: str
    mode: str
    vllm_version: str | None = None
    launch_error: str | None = None
    run_json_found: bool = False
    functional: list[FunctionalCase] = field(default_factory=list)
    perf: list[PerfPoint] = field(default_factory=list)
    accuracy: list[AccuracyResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def has_results(self, stage: str) -> bool:
        """Whether `stage` left at least one result row."""
        rows: dict[str, list[Any]] = {
            "functional": list(self.functional),
            "perf": list(self.perf),
            "accuracy": list(self.accuracy),
        }
        return bool(rows.get(stage))


@dataclass(slots=True)
class RunResults:
    """One run directory: session facts and per-scenario results, in session order."""

    run_dir: Path
    run_id: str
    run_type: str
    commit: str
    branch: str
    start_s: float | None
    end_s: float | None
    cibench_version: str
    scenarios: list[ScenarioResults]

    def scenario(self, scenario_id: str) -> ScenarioResults | None:
        """The results of one scenario, or None when the run did not include it."""
        for results in self.scenarios:
            if results.scenario == scenario_id:
                return results
        return None


def parse_number(cell: float | str | None) -> float | None:
    """A CSV cell as a float; empty, unparsable, NaN and `-1` ("not available") are None."""
    if cell is None:
        return None
    if isinstance(cell, str):
        cell = cell.strip()
        if not cell:
            return None
    try:
        value = float(cell)
    except ValueError:
        return None
    if math.isnan(value) or value == -1:
        return None
    return value


def label_value(cell: float | str | None) -> str:
    """A CSV cell as a label value; integral numbers lose their `.0` so runs compare equal."""
    if cell is None:
        return ""
    text = str(cell).strip()
    if text in ("", "-1", "-1.0", "None"):
        return ""
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return repr(number)


def parse_bool(text: str | None) -> bool | None:
    """`true/false/1/0/yes/no/pass/fail` (any case) as a bool; anything else is None."""
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "pass", "passed"):
        return True
    if lowered in ("false", "0", "no", "fail", "failed"):
        return False
    return None


def parse_timestamp(value: float | str | None) -> float | None:
    """Seconds since the epoch from a number or an ISO-8601 string."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file keyed by header name; raises OSError or csv.Error."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {str(k).strip(): (v or "") for k, v in row.items() if k is not None}
            for row in csv.DictReader(handle)
        ]


def perf_point_from_row(row: Mapping[str, float | str], source: str) -> PerfPoint:
    """A summary row as a `PerfPoint`: key from the load-point columns, the rest as numbers."""
    control_method = label_value(row.get("Control_Method"))
    key = LoadPointKey(
        control_method=control_method,
        backend=label_value(row.get("Backend")),
        concurrency=label_value(row.get("Concurrency")),
        input_len=label_value(row.get("Input_Length")),
        output_len=label_value(row.get("Output_Length")),
        # the perf stage writes Growth_Rate 0 for fixed and poisson, where it means nothing
        growth_rate=label_value(row.get("Growth_Rate")) if control_method == "climb" else "",
        request_rate=label_value(row.get("Request_Rate")),
    )
    values = {column: parse_number(text) for column, text in row.items()}
    return PerfPoint(key=key, values=values, source=source)


def _read_functional(directory: Path, results: ScenarioResults) -> None:
    by_id: dict[tuple[str, str], FunctionalCase] = {}
    for path in sorted(directory.glob("functional*.csv")):
        try:
            rows = read_csv_rows(path)
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            results.problems.append(f"{path}: cannot read functional results ({exc}).")
            continue
        for row in rows:
            case = FunctionalCase(
                suite=row.get("suite", "").strip(),
                case_id=row.get("case_id", "").strip(),
                status=row.get("status", "").strip().lower(),
                reason=row.get("reason", ""),
                duration_s=parse_number(row.get("duration_s")),
            )
            if not case.suite or not case.case_id:
                results.problems.append(f"{path}: a row without suite or case_id was ignored.")
                continue
            # A rerun writes the case again; the last row is the final outcome.
            by_id[(case.suite, case.case_id)] = case
    results.functional = list(by_id.values())


def _read_perf(directory: Path, results: ScenarioResults) -> None:
    by_key: dict[LoadPointKey, PerfPoint] = {}
    for path in sorted((directory / "perf").glob("summary_*.csv")):
        try:
            rows = read_summary(path)
        except (OSError, csv.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
            results.problems.append(f"{path}: cannot read perf summary ({exc}).")
            continue
        for row in rows:
            point = perf_point_from_row(row, path.name)
            if point.key in by_key:
                results.problems.append(
                    f"{path}: load point {point.key.describe()} appears twice; the later row wins."
                )
            by_key[point.key] = point
    results.perf = list(by_key.values())


def _read_accuracy(directory: Path, results: ScenarioResults) -> None:
    path = directory / "accuracy.csv"
    if not path.exists():
        return
    try:
        rows = read_csv_rows(path)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        results.problems.append(f"{path}: cannot read accuracy results ({exc}).")
        return
    for row in rows:
        n = parse_number(row.get("n"))
        results.accuracy.append(
            AccuracyResult(
                dataset=row.get("dataset", "").strip(),
                variant=row.get("variant", "").strip(),
                score=parse_number(row.get("score")),
                std=parse_number(row.get("std")),
                n=int(n) if n is not None else None,
                threshold=parse_number(row.get("threshold")),
                passed=parse_bool(row.get("pass")),
                model=row.get("model", "").strip(),
            )
        )


def _vllm_version(server_version: Any) -> str | None:
    if isinstance(server_version, dict):
        version = server_version.get("version")
        return str(version) if version is not None else None
    if isinstance(server_version, str) and server_version:
        return server_version
    return None


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def read_session(run_dir: Path) -> SessionFile:
    """Parse `run_dir/session.json`; raise `CibenchError` saying what is wrong with it."""
    path = run_dir / "session.json"
    try:
        return SessionFile.model_validate(_read_json(path))
    except FileNotFoundError as exc:
        raise CibenchError(
            f"{path}: not found. Expected a run directory written by a cibench session "
            "(artifacts/<run_id>/); pass the run directory, not the artifacts root."
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise CibenchError(f"{path}: cannot read session file ({exc}).") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CibenchError(
            f"{path}: {where}: {first['msg']}. The file should be the session.json that "
            "cibench writes at the end of a session."
        ) from exc


def _scenario_results(
    run_dir: Path, scenario_id: str, expected: SessionScenarioFile | None
) -> ScenarioResults:
    expected = expected or SessionScenarioFile()
    results = ScenarioResults(
        scenario=scenario_id,
        expected_stages=tuple(stage for stage in expected.stages if stage in STAGES),
        model=expected.model,
        served_model_name=expected.served_model_name or expected.model,
        quant=expected.quant,
        hardware=expected.hardware,
        mode=expected.mode,
    )
    directory = run_dir / scenario_id
    run_path = directory / "run.json"
    if run_path.exists():
        try:
            run = RunFile.model_validate(_read_json(run_path))
        except (OSError, json.JSONDecodeError, ValidationError) as exc:
            results.problems.append(f"{run_path}: cannot read ({exc}).")
        else:
            results.run_json_found = True
            results.launch_error = run.launch_error
            results.vllm_version = _vllm_version(run.server_version)
            results.model = results.model or (run.model or "")
            results.served_model_name = results.served_model_name or (
                run.served_model_name or results.model
            )
            results.quant = results.quant or (run.quant or "")
            results.hardware = results.hardware or (run.hardware or "")
            results.mode = results.mode or (run.mode or "")
    if directory.is_dir():
        _read_functional(directory, results)
        _read_perf(directory, results)
        _read_accuracy(directory, results)
    return results


def _scenario_dirs(run_dir: Path) -> Iterable[str]:
    for child in sorted(run_dir.iterdir()):
        if child.is_dir() and (child / "run.json").exists():
            yield child.name


def collect_run(run_dir: Path) -> RunResults:
    """Read `run_dir` (an `artifacts/<run_id>/` directory) into `RunResults`.

    Scenarios come from `session.json` in its order, then any scenario directory with a
    `run.json` that the session did not list.
    """
    session = read_session(run_dir)
    scenario_ids = list(session.scenarios)
    scenario_ids += [name for name in _scenario_dirs(run_dir) if name not in session.scenarios]
    return RunResults(
        run_dir=run_dir,
        run_id=session.run_id,
        run_type=session.run_type,
        commit=session.commit or "",
        branch=session.branch or "",
        start_s=parse_timestamp(session.start),
        end_s=parse_timestamp(session.end),
        cibench_version=session.cibench_version or "",
        scenarios=[
            _scenario_results(run_dir, scenario_id, session.scenarios.get(scenario_id))
            for scenario_id in scenario_ids
        ],
    )
