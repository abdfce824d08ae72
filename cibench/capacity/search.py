"""The SLO search as a pure state machine: which load to probe next, given the verdicts so far.

Bracket first: from `start`, double after every pass until a probe breaks the SLO (or `max`
passes); when `start` itself breaks, halve until a probe passes. Then bisect the bracket
[highest pass, lowest break] until it is at most `resolution` wide. The answer is the highest
load that passed. Concurrency stays whole (midpoints round down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cibench.config.capacity import SearchSettings

__all__ = ["Bisection", "StepResult"]


@dataclass(frozen=True, slots=True)
class StepResult:
    """One probe's load and whether it kept the SLO."""

    load: float
    passed: bool


@dataclass(slots=True)
class Bisection:
    """Decides the next probe; `stop_reason` is set once the search is over."""

    settings: SearchSettings
    steps: list[StepResult] = field(default_factory=list)
    stop_reason: str | None = None

    @property
    def whole(self) -> bool:
        """Concurrency is searched in whole workers."""
        return self.settings.over == "concurrency"

    @property
    def lower(self) -> float | None:
        """The highest load that kept the SLO (the answer so far)."""
        passed = [step.load for step in self.steps if step.passed]
        return max(passed) if passed else None

    @property
    def upper(self) -> float | None:
        """The lowest load that broke the SLO."""
        broke = [step.load for step in self.steps if not step.passed]
        return min(broke) if broke else None

    @property
    def converged(self) -> bool:
        """The bracket is resolved (or bounded by `max` / the lowest possible load)."""
        return self.stop_reason in {"converged", "reached search.max"}

    def record(self, load: float, passed: bool) -> None:
        """Add a probe's verdict."""
        self.steps.append(StepResult(load, passed))

    def stop(self, reason: str) -> None:
        """End the search early (time budget, probe budget, server failing, harness-bound)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def next_load(self) -> float | None:
        """The load to probe next, or None when the search is over (see `stop_reason`)."""
        if self.stop_reason is not None:
            return None
        if not self.steps:
            return self._snap(self.settings.start)
        lower, upper = self.lower, self.upper
        if upper is None:  # still climbing: every probe so far passed
            assert lower is not None
            if lower >= self.settings.max:
                self.stop_reason = "reached search.max"
                return None
            return self._snap(min(lower * 2, self.settings.max))
        if lower is None:  # even the lowest probe broke the SLO: go down
            down = self._snap(upper / 2)
            if down < self._floor() or down >= upper:
                self.stop_reason = "SLO broken at the lowest load"
                return None
            return down
        if upper - lower <= self.settings.resolution:
            self.stop_reason = "converged"
            return None
        middle = self._snap((lower + upper) / 2)
        if not lower < middle < upper:
            self.stop_reason = "converged"
            return None
        return middle

    def _floor(self) -> float:
        return 1.0 if self.whole else self.settings.resolution

    def _snap(self, load: float) -> float:
        # rates keep three decimals so probe ids and CSV cells stay readable
        return float(math.floor(load)) if self.whole else round(load, 3)
