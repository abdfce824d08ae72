"""Perf profile model (`configs/tests/perf/profiles/*.yaml`) and the load grid it expands to."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from cibench.config.base import StrictModel
from cibench.config.capacity import (
    MIN_GOOD_RATIO,
    LadderSettings,
    SearchSettings,
    Slo,
    SoakSettings,
)

ControlMethod = Literal["fixed", "climb", "poisson", "search", "ladder", "soak"]
Backend = Literal["threading-pool", "asyncio"]
ShapeName = Literal[
    "short-in-short-out", "short-in-long-out", "long-in-long-out", "long-in-short-out"
]
Sizing = Literal["auto", "tokenize", "usage"]
Arrival = Literal["poisson", "constant", "gamma"]
LengthDistribution = Literal["fixed", "uniform", "normal"]

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


class DatasetSpec(StrictModel):
    """Prompts from a user's file instead of synthetic text (`cibench/perf/dataset.py`)."""

    path: str
    format: Literal["jsonl", "sharegpt", "csv"] = "jsonl"
    prompt_field: str = "prompt"
    output_field: str | None = "output_tokens"
    min_input_tokens: PositiveInt | None = None
    max_input_tokens: PositiveInt | None = None


class SessionSpec(StrictModel):
    """Multi-turn sessions (`cibench/perf/sessions.py`): each conversation sends `turns`
    requests, each carrying the whole history so far (its user turns and the server's
    answers) plus a new user turn of `input_length` tokens, `think_time_s` after the previous
    answer ended. The load point's request count counts conversations."""

    turns: int = Field(ge=2, le=64)
    think_time_s: NonNegativeFloat = 0.0


class RequestSlo(StrictModel):
    """A per-request service-level objective: a request is *good* when it succeeded and met
    every limit given (seconds; TPOT is not judged for a 1-token output). Goodput = good
    requests per second of the load point's duration."""

    ttft_s: PositiveFloat | None = None
    tpot_s: PositiveFloat | None = None
    e2e_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _has_a_limit(self) -> RequestSlo:
        if self.ttft_s is None and self.tpot_s is None and self.e2e_s is None:
            raise ValueError("a goodput SLO needs at least one of ttft_s, tpot_s, e2e_s")
        return self

    def describe(self) -> str:
        """`ttft_s<=0.5,tpot_s<=0.05`: the limits given, for labels and messages."""
        parts = [("ttft_s", self.ttft_s), ("tpot_s", self.tpot_s), ("e2e_s", self.e2e_s)]
        return ",".join(f"{name}<={limit:g}" for name, limit in parts if limit is not None)


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
    input_tolerance: NonNegativeInt = 1
    sizing: Sizing = "auto"
    arrival: Arrival = "poisson"
    burstiness: PositiveFloat = 1.0
    length_distribution: LengthDistribution = "fixed"
    length_spread: float = Field(default=0.0, ge=0.0, le=1.0)
    dataset: DatasetSpec | None = None
    prefix_count: NonNegativeInt = 0
    prefix_length: NonNegativeInt = 0
    goodput_slo: RequestSlo | None = None
    session: SessionSpec | None = None
    workers: PositiveInt = Field(default=1, le=64)
    min_good_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    max_failure_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    max_send_lag_ms: PositiveFloat = 25.0
    max_receive_lag_ms: PositiveFloat = 25.0
    rate_tolerance: float = Field(default=0.05, gt=0.0, lt=1.0)
    monitor_interval_seconds: float = Field(default=1.0, ge=0.0)
    """Resource sampling interval while a load point runs (0 = off; docs/capacity.md)."""
    slo: Slo | None = None
    search: SearchSettings | None = None
    ladder: LadderSettings | None = None
    soak: SoakSettings | None = None
    completion_tolerance: float = Field(default=0.10, ge=0.0)

    @model_validator(mode="after")
    def _method_has_its_parameters(self) -> PerfProfile:
        if self.control_method == "poisson" and not self.request_rate:
            raise ValueError("control_method 'poisson' needs 'request_rate' (a list of req/s)")
        if self.min_good_ratio is not None and self.goodput_slo is None:
            raise ValueError("'min_good_ratio' needs a 'goodput_slo' to judge requests by")
        if self.slo is not None and MIN_GOOD_RATIO in self.slo.root and self.goodput_slo is None:
            raise ValueError(
                "'slo.min_good_ratio' needs a 'goodput_slo' to judge requests by "
                "(e.g. goodput_slo: {ttft_s: 0.5, tpot_s: 0.05})"
            )
        if self.dataset is not None and self.prefix_count:
            raise ValueError("'dataset' and shared prefixes ('prefix_count') do not combine")
        if self.session is not None:
            self._check_session()
        if self.workers > 1:
            self._check_workers()
        if bool(self.prefix_count) != bool(self.prefix_length):
            raise ValueError("'prefix_count' and 'prefix_length' go together (both > 0)")
        shortest = min([i for i, _ in self.shape_grid()], default=0)
        if self.prefix_length and shortest and self.prefix_length >= shortest:
            raise ValueError(
                f"'prefix_length' {self.prefix_length} must be below every input length "
                f"(shortest: {shortest}): each prompt needs a unique suffix"
            )
        if self.burstiness != 1.0 and self.arrival != "gamma":
            raise ValueError("'burstiness' only shapes 'arrival: gamma' (1 = poisson)")
        if self.length_distribution != "fixed" and self.length_spread <= 0:
            raise ValueError(
                f"length_distribution '{self.length_distribution}' needs 'length_spread' > 0 "
                "(e.g. 0.5: uniform over ±50% of each length, or a normal with σ = 50%)"
            )
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
        if self.control_method == "search":
            if self.slo is None or self.search is None:
                raise ValueError(
                    "control_method 'search' needs 'slo' (e.g. {tpot_p99_s: 0.05}) and "
                    "'search' (at least {over: concurrency}); see docs/capacity.md"
                )
            problems = self.search.check()
            if problems:
                raise ValueError("; ".join(problems))
        elif self.search is not None:
            raise ValueError("'search' is only used with control_method 'search'")
        if self.control_method == "ladder":
            if self.ladder is None:
                raise ValueError(
                    "control_method 'ladder' needs 'ladder' (e.g. {over: rate, steps: [10, 50], "
                    "hold_seconds: 30}); see docs/capacity.md"
                )
            problems = self.ladder.check()
            if problems:
                raise ValueError("; ".join(problems))
        elif self.ladder is not None:
            raise ValueError("'ladder' is only used with control_method 'ladder'")
        if (self.control_method == "soak") != (self.soak is not None):
            raise ValueError(
                "control_method 'soak' and a 'soak' section (e.g. {duration_seconds: 120, "
                "window_seconds: 30}) go together; see docs/capacity.md"
            )
        return self

    def _check_session(self) -> None:
        if self.api != "chat":
            raise ValueError("'session' (multi-turn conversations) needs 'api: chat'")
        if self.backend != "asyncio":
            raise ValueError(
                "'session' runs on the asyncio backend (one coroutine per conversation): "
                "set 'backend: asyncio'"
            )
        if self.dataset is not None or self.prefix_count:
            raise ValueError("'session' does not combine with 'dataset' or shared prefixes")

    def _check_workers(self) -> None:
        if self.session is not None:
            raise ValueError("'workers' > 1 does not combine with 'session' (one process)")
        if self.control_method != "poisson" and self.workers > min(self.concurrency):
            raise ValueError(
                f"'workers' {self.workers} exceeds the smallest 'concurrency' "
                f"{min(self.concurrency)}: each process needs at least one closed-loop worker"
            )

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
            if self.search is not None:
                points.append(self.search_point(input_length, output_length, self.search.start))
            elif self.soak is not None:
                points.append(self.soak_point(input_length, output_length))
            elif self.ladder is not None:
                points.append(self.ladder_point(input_length, output_length, self.ladder.steps[0]))
                if self.ladder.over in ("input_length", "output_length"):
                    break  # a length ladder replaces the shapes: one ladder in all
            elif self.control_method == "poisson":
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

    def search_point(self, input_length: int, output_length: int, load: float) -> LoadPoint:
        """The load point an SLO search probes at `load` (workers or requests/s)."""
        if self.search is None:
            raise ValueError("search_point needs a 'search' section")
        fixed = self.search.requests_per_probe
        if self.search.over == "rate":
            count = fixed or self._poisson_requests(load)
            return LoadPoint(
                input_length, output_length, self.concurrency_cap, count, request_rate=load
            )
        workers = int(load)
        count = fixed or self.num_requests or self.num_requests_per_concurrency * workers
        return LoadPoint(input_length, output_length, concurrency=workers, num_requests=count)

    def ladder_point(self, input_length: int, output_length: int, step: float) -> LoadPoint:
        """The load point of one ladder step (`step` in the unit of `ladder.over`)."""
        if self.ladder is None:
            raise ValueError("ladder_point needs a 'ladder' section")
        over = self.ladder.over
        if over == "input_length":
            input_length = int(step)
        elif over == "output_length":
            output_length = int(step)
        rate = step if over == "rate" else (self.request_rate[0] if self.request_rate else None)
        if rate is not None:
            hold = self.ladder.hold_seconds or self.duration_seconds
            count = self.num_requests or (
                max(1, math.ceil(rate * hold)) if hold else self._poisson_requests(rate)
            )
            return LoadPoint(
                input_length, output_length, self.concurrency_cap, count, request_rate=rate
            )
        workers = int(step) if over == "concurrency" else self.concurrency[0]
        count = self.num_requests or self.num_requests_per_concurrency * workers
        return LoadPoint(input_length, output_length, concurrency=workers, num_requests=count)

    def soak_point(self, input_length: int, output_length: int) -> LoadPoint:
        """One soak window's load point: open loop at `request_rate[0]` when given (requests =
        rate x window), else closed loop at `concurrency[0]`."""
        if self.soak is None:
            raise ValueError("soak_point needs a 'soak' section")
        if self.request_rate:
            rate = self.request_rate[0]
            count = max(1, math.ceil(rate * self.soak.window_seconds))
            return LoadPoint(
                input_length, output_length, self.concurrency_cap, count, request_rate=rate
            )
        workers = self.concurrency[0]
        count = self.soak.requests_per_window or self.num_requests_per_concurrency * workers
        return LoadPoint(input_length, output_length, concurrency=workers, num_requests=count)

    def _poisson_requests(self, rate: float) -> int:
        if self.num_requests is not None:
            return self.num_requests
        if self.duration_seconds is not None:
            return max(1, math.ceil(rate * self.duration_seconds))
        return max(1, math.ceil(rate * self.num_requests_per_concurrency))
