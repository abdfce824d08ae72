"""Matrix model: which stages run for each scenario and run type."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cibench.config.base import StrictModel

RunType = Literal["pr", "daily"]
Stage = Literal["functional", "perf", "accuracy"]
STAGES: tuple[Stage, ...] = ("functional", "perf", "accuracy")
RUN_TYPES: tuple[RunType, ...] = ("pr", "daily")


class MatrixEntry(StrictModel):
    """The stages of one scenario for one run type; an absent stage is off."""

    functional: bool = False
    perf: bool = False
    accuracy: bool = False
    functional_subset: Literal["all"] | list[str] = "all"
    perf_profile: str | None = None
    accuracy_profile: str | None = None

    @field_validator("functional_subset")
    @classmethod
    def _subset_not_empty(cls, value: Literal["all"] | list[str]) -> Literal["all"] | list[str]:
        if value == []:
            raise ValueError(
                "an empty list would run no functional case; list suites or 'suite::case' "
                "ids, write 'all', or set functional: false"
            )
        return value

    def enabled(self, stage: Stage) -> bool:
        """Whether `stage` runs."""
        return bool(getattr(self, stage))


class Matrix(StrictModel):
    """`configs/matrix.yaml`: scenario id -> run type -> entry."""

    scenarios: dict[str, dict[RunType, MatrixEntry]] = Field(default_factory=dict)

    def entry(self, scenario_id: str, run_type: RunType) -> MatrixEntry | None:
        """The entry for a scenario and run type, or None when the matrix does not list it."""
        return self.scenarios.get(scenario_id, {}).get(run_type)
