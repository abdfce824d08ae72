"""Perf profile model (`configs/tests/perf/profiles/*.yaml`) and the load grid it expands to."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from cibench.config.base import StrictModel

ControlMethod = Literal["fixed", "climb", "poisson"]
Backend = Literal["threading-pool", "asyncio"]
ShapeName = Literal[
    "short-in-short-out", "short-in-long-out", "long-in-long-out", "long-in-short-out"
]
Sizing = Literal["auto", "tokenize", "usage"]

SHAPES: dict[str, tuple[int, int]] = {
    "short-in-short-out": (128, 128),
    "short-in-long-out": (128, 2048),
    "long-in-long-out": (2048, 2048),
    "long-in-short-out": (2048, 128),
}
"""The classic (input_length, output_length) presets a profile can name under `shapes`."""


@dataclass(frozen=True, slots=True)
class LoadPoint:
    """One cell of the load grid: a shape (input × output tokens) at one concurrency or rate."""

    input_length: int
    output_length: int
    concurrency: int
    """Workers (fixed, climb's ceiling) or poisson's in-flight cap (0 = no cap)."""
    num_requests: int
    """Measured requests per epoch (warmup excluded)."""
    request_rate: float | None = None

    @property
    def id(self) -> str:
        """Readable, stable test-id fragment, e.g. `c4-in128-out128` or `r50-in128-out16`."""
        load = (
            f"r{self.request_rate:g}" if self.request_rate is not None else f"c{self.concurrency}"
        )
        return f"{load}-in{self.input_length}-out{self.output_length}"


class PerfProfile(StrictModel):
    """How to load the server: control method, grid of shapes and concurrencies, sampling."""

    control_method: ControlMethod = "fixed"
    backend: Backend = "asyncio"
    """asyncio keeps latency percentiles honest at high concurrency on a small runner (the
    threading pool's send lag flags c64 harness-bound on two cores); threading-pool stays for
    acs-bench compatibility."""
    concurrency: list[PositiveInt] = Field(default_factory=lambda: [1], min_length=1)
    request_rate: list[PositiveFloat] | None = None
    init_concurrency: PositiveInt | None = None
    growth_rate: NonNegativeInt = 0
    growth_interval_ms: PositiveInt = 1000
    input_length: list[PositiveInt] = Field(default_factory=list)
    output_length: list[PositiveInt] = Field(default_factory=list)
    shapes: list[ShapeName] = Field(default_factory=list)
    num_requests_per_concurrency: PositiveInt = 4
    num_requests: PositiveInt | None = None
    duration_seconds: PositiveFloat | None = None
    warmup: NonNegativeInt = 1
    epochs: PositiveInt = 1
    seed: int = 0
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_k: int = -1
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    ignore_eos: bool = True
    stream: bool = True
    api: Literal["chat", "completions"] = "chat"
    timeout_seconds: PositiveFloat = 600.0
    percentiles: list[float] = Field(default_factory=lambda: [75.0, 90.0, 95.0, 99.0])
    input_tolerance: NonNegativeInt = 2
    sizing: Sizing = "auto"
    max_failure_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    max_send_lag_ms: PositiveFloat = 25.0
    rate_tolerance: float = Field(default=0.05, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _method_has_its_parameters(self) -> PerfProfile:
        if self.control_method == "poisson" and not self.request_rate:
            raise ValueError("control_method 'poisson' needs 'request_rate' (a list of req/s)")
        if self.control_method == "climb" and self.growth_rate < 1:
            raise ValueError("control_method 'climb' needs 'growth_rate' >= 1")
        if any(not 0 < p < 100 for p in self.percentiles):
            raise ValueError("percentiles must lie strictly between 0 and 100")
        if bool(self.input_length) != bool(self.output_length):
            raise ValueError("'input_length' and 'output_length' go together (lists of tokens)")
        if not self.input_length and not self.shapes:
            raise ValueError(
                "no load shape: give 'input_length' and 'output_length' (lists of tokens) "
                f"and/or 'shapes' (any of {sorted(SHAPES)})"
            )
        if self.init_concurrency is not None and self.init_concurrency > max(self.concurrency):
            raise ValueError("'init_concurrency' must not exceed the largest 'concurrency'")
        return self

    def shape_grid(self) -> list[tuple[int, int]]:
        """(input_length, output_length) pairs: named shapes first, then the cartesian product."""
        pairs = [SHAPES[name] for name in self.shapes]
        pairs += [(i, o) for i in self.input_length for o in self.output_length]
        return list(dict.fromkeys(pairs))

    @property
    def concurrency_cap(self) -> int:
        """Poisson's optional in-flight cap: the largest `concurrency` if given, else 0 (none)."""
        return max(self.concurrency) if "concurrency" in self.model_fields_set else 0

    def load_points(self) -> list[LoadPoint]:
        """The load grid in a deterministic order: shapes outer, concurrency or rate inner."""
        points: list[LoadPoint] = []
        for input_length, output_length in self.shape_grid():
            if self.control_method == "poisson":
                points += [
                    LoadPoint(
                        input_length,
                        output_length,
                        concurrency=self.concurrency_cap,
                        num_requests=self._poisson_requests(rate),
                        request_rate=rate,
                    )
                    for rate in self.request_rate or []
                ]
            else:
                points += [
                    LoadPoint(
                        input_length,
                        output_length,
                        concurrency=concurrency,
                        num_requests=self.num_requests
                        or self.num_requests_per_concurrency * concurrency,
                    )
                    for concurrency in self.concurrency
                ]
        return points

    def _poisson_requests(self, rate: float) -> int:
        if self.num_requests is not None:
            return self.num_requests
        if self.duration_seconds is not None:
            return max(1, math.ceil(rate * self.duration_seconds))
        return max(1, math.ceil(rate * self.num_requests_per_concurrency))
