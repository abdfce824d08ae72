"""Expand matrix and profiles into the ordered test items (pure; lint and pytest share it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cibench.config.accuracy import AccuracyProfile
from cibench.config.functional import FunctionalCase, FunctionalSuite
from cibench.config.loader import ConfigSet
from cibench.config.matrix import STAGES, MatrixEntry, RunType, Stage
from cibench.config.perf import LoadPoint, PerfProfile


@dataclass(frozen=True)
class PerfItem:
    """One perf test: a load point of a profile against a scenario."""

    scenario_id: str
    profile_name: str
    profile: PerfProfile
    point: LoadPoint

    @property
    def id(self) -> str:
        point = self.point
        if self.profile.search is not None:  # one test runs the whole search of this shape
            return f"{self.scenario_id}-search-in{point.input_length}-out{point.output_length}"
        if self.profile.soak is not None:  # one test runs the whole soak
            shape = f"in{point.input_length}-out{point.output_length}"
            return f"{self.scenario_id}-soak-{point.id.split('-')[0]}-{shape}"
        if self.profile.ladder is not None:  # one test runs the whole ladder
            shape = f"in{point.input_length}-out{point.output_length}"
            return f"{self.scenario_id}-ladder-{self.profile.ladder.over}-{shape}"
        return f"{self.scenario_id}-{point.id}"


@dataclass(frozen=True)
class FunctionalItem:
    """One functional test: a case of a suite against a scenario."""

    scenario_id: str
    suite: FunctionalSuite
    case: FunctionalCase

    @property
    def id(self) -> str:
        return f"{self.scenario_id}::{self.suite.suite}::{self.case.id}"


@dataclass(frozen=True)
class AccuracyItem:
    """One accuracy test: an accuracy profile against a scenario."""

    scenario_id: str
    profile_name: str
    profile: AccuracyProfile

    @property
    def id(self) -> str:
        return f"{self.scenario_id}-{self.profile_name}"


@dataclass(frozen=True)
class StageOff:
    """A stage the matrix does not run for a scenario, and why (shown as a skip, never hidden)."""

    scenario_id: str
    stage: Stage
    reason: str

    @property
    def id(self) -> str:
        return f"{self.scenario_id}-{self.stage}-off"


@dataclass
class ScenarioPlan:
    """Everything one scenario runs for one run type."""

    scenario_id: str
    run_type: RunType
    entry: MatrixEntry
    from_matrix: bool
    functional: list[FunctionalItem] = field(default_factory=list)
    perf: list[PerfItem] = field(default_factory=list)
    accuracy: list[AccuracyItem] = field(default_factory=list)
    off: dict[Stage, str] = field(default_factory=dict)

    @property
    def stages(self) -> list[Stage]:
        """The stages that run, in pipeline order."""
        return [stage for stage in STAGES if stage not in self.off]

    def count(self, stage: Stage) -> int:
        """How many tests `stage` contributes."""
        return len(getattr(self, stage))


def default_entry(run_type: RunType) -> MatrixEntry:
    """What a scenario absent from matrix.yaml runs: functional, and perf with the run type profile.

    Accuracy stays off because the shipped datasets are synthetic; a real model needs a real one.
    """
    return MatrixEntry(functional=True, perf=True, accuracy=False, perf_profile=run_type)


def _selected(suite: FunctionalSuite, case: FunctionalCase, subset: str | list[str]) -> bool:
    if subset == "all":
        return True
    return suite.suite in subset or f"{suite.suite}::{case.id}" in subset


def plan_scenario(configs: ConfigSet, scenario_id: str, run_type: RunType) -> ScenarioPlan:
    """The tests of one scenario; a stage that is off gets a reason naming where to turn it on."""
    listed = configs.matrix.entry(scenario_id, run_type)
    entry = listed or default_entry(run_type)
    plan = ScenarioPlan(scenario_id, run_type, entry, from_matrix=listed is not None)
    where = f"matrix.yaml scenarios.{scenario_id}.{run_type}"
    for stage in STAGES:
        if not entry.enabled(stage):
            plan.off[stage] = f"stage '{stage}' is off for {scenario_id}/{run_type} " + (
                f"({where}.{stage})" if listed else f"({scenario_id} is not in matrix.yaml)"
            )
    if "functional" not in plan.off:
        plan.functional = [
            FunctionalItem(scenario_id, suite, case)
            for suite in configs.functional_suites
            for case in suite.cases
            if _selected(suite, case, entry.functional_subset)
        ]
    if "perf" not in plan.off:
        name = entry.perf_profile or run_type
        profile = configs.perf_profiles.get(name)
        if profile is None:
            plan.off["perf"] = f"perf profile '{name}' not found in tests/perf/profiles/"
        else:
            plan.perf = [PerfItem(scenario_id, name, profile, p) for p in profile.load_points()]
    if "accuracy" not in plan.off:
        name = entry.accuracy_profile or run_type
        accuracy = configs.accuracy_profiles.get(name)
        if accuracy is None:
            plan.off["accuracy"] = f"accuracy profile '{name}' not found in tests/accuracy/"
        else:
            plan.accuracy = [AccuracyItem(scenario_id, name, accuracy)]
    return plan


def build_plan(
    configs: ConfigSet, scenario_ids: list[str], run_type: RunType
) -> list[ScenarioPlan]:
    """Plans for the selected scenarios, in the order given (duplicates dropped)."""
    unique = list(dict.fromkeys(scenario_ids))
    return [plan_scenario(configs, scenario_id, run_type) for scenario_id in unique]
