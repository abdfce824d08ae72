"""`RunReader`: the only code that reads a run directory back, into typed results.

A missing or unreadable results file is not an error here: it becomes a line in
`ScenarioResults.problems`, and an expected stage without results is left for the completeness
gate to report. Only a missing or malformed `session.json` raises (`CibenchError`), since
without it there is no run to speak of.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from cibench.artifacts import layout
from cibench.artifacts.capacity import (
    CAPACITY_GLOB,
    PROBES_GLOB,
    SOAK_GLOB,
    CapacityKey,
    CapacityRow,
    ProbeRow,
    SoakRow,
)
from cibench.artifacts.codec import CsvRow, read_rows
from cibench.artifacts.files import STAGE_ORDER, GatesFile, RunFile, SessionFile, SessionScenario
from cibench.artifacts.rows import (
    AccuracyRow,
    FunctionalCaseRow,
    LoadPointKey,
    PerfRequestRow,
    PerfSummaryRow,
)
from cibench.errors import CibenchError

STAGES = STAGE_ORDER
_READ_ERRORS = (OSError, csv.Error, UnicodeDecodeError, ValueError, ValidationError)
RowT = TypeVar("RowT", bound=CsvRow)
FileT = TypeVar("FileT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class SoakVerdict:
    """One `soak_*.csv`: its file name and one row per drift metric."""

    name: str
    rows: list[SoakRow]


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
    functional: list[FunctionalCaseRow] = field(default_factory=list)
    perf: list[PerfSummaryRow] = field(default_factory=list)
    accuracy: list[AccuracyRow] = field(default_factory=list)
    capacity: list[CapacityRow] = field(default_factory=list)
    """SLO-search and ladder answers (`perf/capacity_*.csv`); their probes are also in `perf`."""
    probes: list[ProbeRow] = field(default_factory=list)
    """Every probe / ladder step (`perf/probes_*.csv`), in file order."""
    soaks: list[SoakVerdict] = field(default_factory=list)
    """Each soak's drift verdict (`perf/soak_*.csv`), oldest first."""
    soak_windows: list[PerfSummaryRow] = field(default_factory=list)
    """Every soak window in order (they share one load-point key, so `perf` keeps the last)."""
    problems: list[str] = field(default_factory=list)

    def has_results(self, stage: str) -> bool:
        """Whether `stage` left at least one result row."""
        rows: dict[str, int] = {
            "functional": len(self.functional),
            "perf": len(self.perf),
            "accuracy": len(self.accuracy),
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


def read_summary(path: Path) -> list[PerfSummaryRow]:
    """Every load point of a perf `summary_*.csv`."""
    return read_rows(Path(path), PerfSummaryRow)


def read_requests(path: Path) -> list[PerfRequestRow]:
    """Every request of a perf `requests_*.csv`."""
    return read_rows(Path(path), PerfRequestRow)


def _read_json(path: Path, model: type[FileT]) -> FileT:
    return model.model_validate(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class RunReader:
    """Reads one run directory, `artifacts/<run_id>/`."""

    run_dir: Path

    def session(self) -> SessionFile:
        """`session.json`; raises `CibenchError` saying what is wrong with it."""
        path = self.run_dir / layout.SESSION_JSON
        try:
            return _read_json(path, SessionFile)
        except FileNotFoundError as exc:
            raise CibenchError(
                f"{path}: not found. Expected a run directory written by a cibench session "
                "(artifacts/<run_id>/); pass the run directory, not the artifacts root."
            ) from exc
        except (OSError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                raise CibenchError(
                    f"{path}: {where}: {first['msg']}. The file should be the session.json "
                    "that cibench writes at the end of a session."
                ) from exc
            raise CibenchError(f"{path}: cannot read session file ({exc}).") from exc

    def gates(self) -> GatesFile | None:
        """`gates.json`, or None when the run has none yet; raises `CibenchError` when broken."""
        path = self.run_dir / layout.GATES_JSON
        if not path.exists():
            return None
        try:
            return _read_json(path, GatesFile)
        except (OSError, ValueError) as exc:
            raise CibenchError(f"{path}: cannot read gates file ({exc}).") from exc

    def scenario_ids(self, session: SessionFile) -> list[str]:
        """Scenarios from `session.json` in its order, then any directory with a `run.json`."""
        ids = list(session.scenarios)
        for child in sorted(self.run_dir.iterdir()):
            if child.name not in ids and child.is_dir() and (child / layout.RUN_JSON).exists():
                ids.append(child.name)
        return ids

    def read(self) -> RunResults:
        """The whole run: session facts and every scenario's results."""
        session = self.session()
        return RunResults(
            run_dir=self.run_dir,
            run_id=session.run_id,
            run_type=session.run_type,
            commit=session.commit or "",
            branch=session.branch or "",
            start_s=session.start_s,
            end_s=session.end_s,
            cibench_version=session.cibench_version or "",
            scenarios=[
                self.scenario(scenario_id, session.scenarios.get(scenario_id))
                for scenario_id in self.scenario_ids(session)
            ],
        )

    def scenario(self, scenario_id: str, expected: SessionScenario | None) -> ScenarioResults:
        """One scenario's results; `expected` is its `session.json` entry."""
        expected = expected or SessionScenario()
        results = ScenarioResults(
            scenario=scenario_id,
            expected_stages=tuple(stage for stage in expected.stages if stage in STAGES),
            model=expected.model,
            served_model_name=expected.served_model_name or expected.model,
            quant=expected.quant,
            hardware=expected.hardware,
            mode=expected.mode,
        )
        directory = self.run_dir / scenario_id
        run_path = directory / layout.RUN_JSON
        if run_path.exists():
            try:
                run = _read_json(run_path, RunFile)
            except (OSError, ValueError) as exc:
                results.problems.append(f"{run_path}: cannot read ({exc}).")
            else:
                _merge_run(results, run)
        if directory.is_dir():
            results.functional = _functional(directory, results.problems)
            perf_dir = directory / layout.PERF_DIR
            results.perf, results.soak_windows = _perf(perf_dir, results.problems)
            results.capacity = _capacity(perf_dir, results.problems)
            for path in sorted(perf_dir.glob(PROBES_GLOB)):
                results.probes += _rows(path, ProbeRow, "probes", results.problems)
            results.soaks = [
                SoakVerdict(path.name, list(_rows(path, SoakRow, "soak verdict", results.problems)))
                for path in sorted(perf_dir.glob(SOAK_GLOB))
            ]
            results.accuracy = list(
                _rows(
                    directory / layout.ACCURACY_CSV,
                    AccuracyRow,
                    "accuracy results",
                    results.problems,
                )
            )
        return results


def read_run(run_dir: Path) -> RunResults:
    """Read `run_dir` (an `artifacts/<run_id>/` directory) into `RunResults`."""
    return RunReader(run_dir).read()


def _merge_run(results: ScenarioResults, run: RunFile) -> None:
    results.run_json_found = True
    results.launch_error = run.launch_error
    results.vllm_version = run.vllm_version
    results.model = results.model or (run.model or "")
    results.served_model_name = results.served_model_name or (
        run.served_model_name or results.model
    )
    results.quant = results.quant or (run.quant or "")
    results.hardware = results.hardware or (run.hardware or "")
    results.mode = results.mode or (run.mode or "")


def _rows(path: Path, model: type[RowT], what: str, problems: list[str]) -> Iterator[RowT]:
    if not path.exists():
        return
    try:
        yield from read_rows(path, model)
    except _READ_ERRORS as exc:
        problems.append(f"{path}: cannot read {what} ({exc}).")


def _functional(directory: Path, problems: list[str]) -> list[FunctionalCaseRow]:
    by_id: dict[tuple[str, str], FunctionalCaseRow] = {}
    for path in sorted(directory.glob(layout.FUNCTIONAL_GLOB)):
        for case in _rows(path, FunctionalCaseRow, "functional results", problems):
            if not case.suite or not case.case_id:
                problems.append(f"{path}: a row without suite or case_id was ignored.")
                continue
            # A rerun writes the case again; the last row is the final outcome.
            by_id[(case.suite, case.case_id)] = case
    return list(by_id.values())


def _perf(
    directory: Path, problems: list[str]
) -> tuple[list[PerfSummaryRow], list[PerfSummaryRow]]:
    """(one row per load point, every soak window in order)."""
    by_key: dict[LoadPointKey, PerfSummaryRow] = {}
    windows: list[PerfSummaryRow] = []
    for path in sorted(directory.glob(layout.SUMMARY_GLOB)):
        for point in _rows(path, PerfSummaryRow, "perf summary", problems):
            if point.control_method == "soak":
                windows.append(point)  # one row per window, all on one key: `perf` keeps the last
            elif point.key in by_key:
                problems.append(
                    f"{path}: load point {point.key.describe()} appears twice; the later row wins."
                )
            by_key[point.key] = point
    return list(by_key.values()), windows


def _capacity(directory: Path, problems: list[str]) -> list[CapacityRow]:
    by_key: dict[CapacityKey, CapacityRow] = {}
    for path in sorted(directory.glob(CAPACITY_GLOB)):
        for row in _rows(path, CapacityRow, "SLO search results", problems):
            if not row.search_over or not row.slo_hash:
                problems.append(f"{path}: a row without Search_Over or SLO_Hash was ignored.")
                continue
            by_key[row.key] = row  # a rerun of the same search: the later row wins
    return list(by_key.values())
