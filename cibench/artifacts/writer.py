"""`RunWriter`: the only code that writes into a run directory.

A producer starts a scenario (`run.json`), records functional cases, perf load points and
accuracy results as they finish (appended and closed per row, so a crash keeps what is done),
finishes the scenario (its end time), and the session finishes the run (`session.json`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from cibench.artifacts import layout
from cibench.artifacts.codec import append_cells, write_cells
from cibench.artifacts.files import GatesFile, RunFile, SessionFile
from cibench.artifacts.rows import (
    REQUEST_COLUMNS,
    AccuracyRow,
    FunctionalCaseRow,
    PerfRequestRow,
    PerfSummaryRow,
)
from cibench.redact import scrub


def write_json(path: Path, model: BaseModel) -> Path:
    """Write `model` as indented JSON, atomically (a reader never sees half a file).

    API keys are blanked out here (`cibench.redact`): a server may echo one into any field.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    text = scrub(json.dumps(model.model_dump(mode="json"), indent=2))
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


@dataclass(frozen=True, slots=True)
class LoadPointFiles:
    """Where one load point's rows went."""

    summary_csv: Path
    requests_csv: Path


@dataclass(frozen=True, slots=True)
class ScenarioWriter:
    """Writes one scenario's directory, `<run_dir>/<scenario>/`."""

    directory: Path

    @property
    def perf_dir(self) -> Path:
        return self.directory / layout.PERF_DIR

    def start(self, run: RunFile) -> Path:
        """Write `run.json` (the server the scenario runs against, or why it did not start)."""
        return write_json(self.directory / layout.RUN_JSON, run)

    def finish(self, end: str, server_error: str | None = None) -> None:
        """Stamp the scenario's end time (and why its server died) into its `run.json`."""
        update: dict[str, object] = {"end": end}
        if server_error is not None:
            update["server_error"] = server_error
        self.update(update)

    def run_file(self) -> RunFile | None:
        """The scenario's `run.json`, or None when it has none or it cannot be read."""
        path = self.directory / layout.RUN_JSON
        try:
            return RunFile.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def update(self, fields: dict[str, object]) -> None:
        """Merge `fields` into the scenario's `run.json`, if it has one."""
        run = self.run_file()
        if run is not None:
            write_json(self.directory / layout.RUN_JSON, run.model_copy(update=fields))

    def record_case(self, row: FunctionalCaseRow, worker_id: str = "master") -> Path:
        """Append a functional case to this process's `functional*.csv`; returns the file."""
        path = self.directory / layout.functional_csv(worker_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        append_cells(path, row.to_cells())
        return path

    def record_load_point(
        self, summary: PerfSummaryRow, requests: Sequence[PerfRequestRow]
    ) -> LoadPointFiles:
        """Write the load point's `requests_*.csv` and append its row to the run's
        `summary_*.csv` (one per provider, control method and backend)."""
        self.perf_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d_%H_%M_%S")
        summary_csv = layout.summary_csv(self.perf_dir, summary, stamp)
        requests_csv = layout.requests_csv(self.perf_dir, summary, stamp)
        write_cells(requests_csv, REQUEST_COLUMNS, (row.to_cells() for row in requests))
        append_cells(summary_csv, summary.to_cells())
        return LoadPointFiles(summary_csv, requests_csv)

    def record_accuracy(self, row: AccuracyRow) -> Path:
        """Append one dataset's result to `accuracy.csv`."""
        path = self.directory / layout.ACCURACY_CSV
        path.parent.mkdir(parents=True, exist_ok=True)
        append_cells(path, row.to_cells())
        return path


@dataclass(frozen=True, slots=True)
class RunWriter:
    """Writes one run directory, `artifacts/<run_id>/`."""

    run_dir: Path

    def scenario(self, scenario_id: str) -> ScenarioWriter:
        """The writer of `<run_dir>/<scenario_id>/` (created on first use)."""
        directory = self.run_dir / scenario_id
        directory.mkdir(parents=True, exist_ok=True)
        return ScenarioWriter(directory)

    def start_scenario(self, run: RunFile, scenario_id: str) -> ScenarioWriter:
        """Write the scenario's `run.json` and return its writer."""
        writer = self.scenario(scenario_id)
        writer.start(run)
        return writer

    def finish(self, session: SessionFile) -> Path:
        """Write `session.json`: what ran, for the post-session stage and `cibench gate`."""
        return write_json(self.run_dir / layout.SESSION_JSON, session)

    def stamp_exit(self, exit_status: int, interrupted: bool, scenario_ids: Sequence[str]) -> None:
        """Record the session's final exit status in `session.json` and each `run.json`."""
        fields: dict[str, object] = {"exit_status": exit_status, "interrupted": interrupted}
        path = self.run_dir / layout.SESSION_JSON
        try:
            session = SessionFile.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            session = None
        if session is not None:
            write_json(path, session.model_copy(update=fields))
        for scenario_id in scenario_ids:
            if (self.run_dir / scenario_id).is_dir():
                self.scenario(scenario_id).update(fields)

    def write_gates(self, gates: GatesFile) -> Path:
        """Write `gates.json`."""
        return write_json(self.run_dir / layout.GATES_JSON, gates)
