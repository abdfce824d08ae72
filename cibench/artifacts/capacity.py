"""SLO-search, ladder and soak results: `perf/capacity_*.csv` (one row per search: the answer),
`perf/probes_*.csv` (one row per probe or step) and `perf/soak_*.csv` (the drift verdict), as
typed rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from cibench.artifacts.codec import Column, CsvRow, decode_float, encode, label

__all__ = [
    "CAPACITY_GLOB",
    "PROBES_GLOB",
    "PROBE_COLUMNS",
    "SOAK_GLOB",
    "CapacityKey",
    "CapacityRow",
    "ProbeRow",
    "SoakRow",
    "metric_name",
]

CAPACITY_GLOB = "capacity_*.csv"
PROBES_GLOB = "probes_*.csv"
SOAK_GLOB = "soak_*.csv"
PROBE_COLUMNS = (
    "Scenario",
    "Search_Over",
    "Input_Length",
    "Output_Length",
    "SLO_Hash",
    "Probe",
    "Load",
    "Verdict",
    "Breaches",
    "QPS",
    "Fail_Rate",
    "Elapsed(s)",
)
"""`probes_*.csv`; then one column per SLO key with the measured value (e.g. `tpot_p99_s`)."""


def metric_name(search_over: str) -> str:
    """The metric a search's (or ladder's) answer is exported as, without the prefix:
    `max_concurrency_under_slo`, `max_rate_under_slo`, `max_input_length_under_slo`, ..."""
    return f"max_{search_over}_under_slo"


@dataclass(frozen=True, slots=True)
class CapacityKey:
    """What identifies one search across runs: what was searched, on which shape, for which SLO."""

    search_over: str
    backend: str
    input_len: str
    output_len: str
    slo_hash: str

    def labels(self) -> dict[str, str]:
        """Prometheus labels (the SLO text is added by the caller as `slo`)."""
        return {
            "backend": self.backend,
            "input_len": self.input_len,
            "output_len": self.output_len,
            "slo_hash": self.slo_hash,
        }

    def describe(self) -> str:
        """`search concurrency/asyncio in128 out256 slo 0afbea21`."""
        return (
            f"search {self.search_over}/{self.backend} in{self.input_len} out{self.output_len}"
            f" slo {self.slo_hash}"
        )


class CapacityRow(CsvRow):
    """One row of `capacity_*.csv`: a search's or ladder's answer (`capacity` None: none)."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("Scenario", "scenario"),
        Column("Model", "model"),
        Column("Provider", "provider"),
        Column("Backend", "backend"),
        Column("Search_Over", "search_over"),
        Column("Input_Length", "input_length"),
        Column("Output_Length", "output_length"),
        Column("SLO", "slo"),
        Column("SLO_Hash", "slo_hash"),
        Column("Capacity", "capacity"),
        Column("Lowest_Breaking", "lowest_breaking"),
        Column("Resolution", "resolution"),
        Column("Converged", "converged"),
        Column("Stop_Reason", "stop_reason"),
        Column("Probes", "probes"),
        Column("Elapsed(s)", "elapsed_s"),
        Column("Execution_Time", "execution_time"),
    )
    scenario: str = ""
    model: str = ""
    provider: str = ""
    backend: str = ""
    search_over: str = ""
    input_length: int | None = None
    output_length: int | None = None
    slo: str = ""
    slo_hash: str = ""
    capacity: float | None = None
    lowest_breaking: float | None = None
    resolution: float | None = None
    converged: bool | None = None
    stop_reason: str = ""
    probes: int | None = None
    elapsed_s: float | None = None
    execution_time: str = ""

    @property
    def key(self) -> CapacityKey:
        """What identifies this search across runs."""
        return CapacityKey(
            search_over=self.search_over,
            backend=self.backend,
            input_len=label(self.input_length),
            output_len=label(self.output_length),
            slo_hash=self.slo_hash,
        )


class ProbeRow(CsvRow):
    """One row of `probes_*.csv`: one search probe or ladder step and its verdict."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("Scenario", "scenario"),
        Column("Search_Over", "search_over"),
        Column("Input_Length", "input_length"),
        Column("Output_Length", "output_length"),
        Column("SLO_Hash", "slo_hash"),
        Column("Probe", "probe"),
        Column("Load", "load"),
        Column("Verdict", "verdict"),
        Column("Breaches", "breaches"),
        Column("QPS", "qps"),
        Column("Fail_Rate", "fail_rate"),
        Column("Elapsed(s)", "elapsed_s"),
    )
    scenario: str = ""
    search_over: str = ""
    input_length: int | None = None
    output_length: int | None = None
    slo_hash: str = ""
    probe: int | None = None
    load: float | None = None
    verdict: str = ""
    """`pass`, `break`, `harness-bound` or `server failing`."""
    breaches: str = ""
    qps: float | None = None
    fail_rate: float | None = None
    elapsed_s: float | None = None
    measured: dict[str, float | None] = Field(default_factory=dict)
    """SLO key (`ttft_p99_s`, `fail_rate`, ...) -> the value this probe measured."""

    @classmethod
    def extra_fields(cls, cells: Mapping[str, str]) -> dict[str, Any]:
        """The per-SLO-key columns after `PROBE_COLUMNS`."""
        return {
            "measured": {
                key: decode_float(value) for key, value in cells.items() if key not in PROBE_COLUMNS
            }
        }

    def to_cells(self) -> dict[str, str]:
        """`PROBE_COLUMNS`, then one cell per SLO key."""
        cells = super().to_cells()
        cells.update({key: encode(value) for key, value in self.measured.items()})
        return cells

    @property
    def key(self) -> CapacityKey:
        """The search this probe belongs to (its backend is not in the file: empty)."""
        return CapacityKey(
            search_over=self.search_over,
            backend="",
            input_len=label(self.input_length),
            output_len=label(self.output_length),
            slo_hash=self.slo_hash,
        )


class SoakRow(CsvRow):
    """One row of `soak_*.csv`: one drift metric of a soak, first vs last window and trend."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("Metric", "metric"),
        Column("First", "first"),
        Column("Last", "last"),
        Column("Change", "change"),
        Column("Trend", "trend"),
        Column("Drift", "drift"),
        Column("Windows", "windows"),
        Column("Verdict", "verdict"),
    )
    metric: str = ""
    first: float | None = None
    last: float | None = None
    change: float | None = None
    """Relative change first -> last window (absolute for `failure_ratio`)."""
    trend: float | None = None
    drift: bool | None = None
    windows: int | None = None
    verdict: str = ""
    """`drift` or `stable` (the whole soak's verdict, repeated on every row)."""
