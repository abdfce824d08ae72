"""File names inside a run directory (acs-bench naming for the perf CSVs)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

SESSION_JSON = "session.json"
GATES_JSON = "gates.json"
METRICS_PROM = "metrics.prom"
RUN_JSON = "run.json"
ACCURACY_CSV = "accuracy.csv"
PERF_DIR = "perf"
CONFIRM_DIR = "confirm"
"""`<scenario>/confirm/<point>/perf/`: a PR run's confirmation re-measurements of one load point
(`<point>`: `LoadPointKey.slug()`; same file names as `perf/`, read only by the regression
gates); an interleaved confirmation's blocks are `<scenario>/confirm/<point>/block-N/perf/`."""
CONFIRM_BASELINE_DIR = "confirm-baseline"
"""`<scenario>/confirm-baseline/<point>/block-N/perf/`: the same load point measured on the
baseline scenario (`gates.confirm.baseline_scenario`), interleaved with the candidate's blocks."""
FUNCTIONAL_GLOB = "functional*.csv"
SUMMARY_GLOB = "summary_*.csv"


def functional_csv(worker_id: str) -> str:
    """`functional.csv`, or `functional-gw0.csv` under xdist: workers never share a file."""
    return "functional.csv" if worker_id in ("", "master") else f"functional-{worker_id}.csv"


class _PointNames(Protocol):
    @property
    def provider(self) -> str: ...
    @property
    def dataset(self) -> str: ...
    @property
    def control_method(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def concurrency(self) -> int | None: ...
    @property
    def input_length(self) -> int | None: ...
    @property
    def output_length(self) -> int | None: ...


def summary_csv(directory: Path, point: _PointNames, stamp: str) -> Path:
    """The run's `summary_<provider>_<control>_<backend>_<time>.csv`: the existing one, else a
    new name stamped `stamp`."""
    prefix = f"summary_{point.provider}_{point.control_method}_{point.backend}_"
    existing = sorted(directory.glob(f"{prefix}*.csv"))
    return existing[-1] if existing else directory / f"{prefix}{stamp}.csv"


def requests_csv(directory: Path, point: _PointNames, stamp: str) -> Path:
    """A new `requests_<provider>_<dataset>_<control>_concurrency<N>_<backend>_input<L>_output<M>
    _<time>.csv`; a suffix keeps two points of the same second apart (Poisson points differ only
    by rate, which the acs-bench name does not carry)."""
    base = (
        f"requests_{point.provider}_{point.dataset}_{point.control_method}_concurrency"
        f"{point.concurrency}_{point.backend}_input{point.input_length}_output{point.output_length}"
    )
    candidate = directory / f"{base}_{stamp}.csv"
    attempt = 1
    while candidate.exists():
        candidate = directory / f"{base}_{stamp}-{attempt}.csv"
        attempt += 1
    return candidate
