"""Where an SLO search or ladder writes: `capacity_*.csv` (one `CapacityRow` per search) and
`probes_*.csv` (one row per probe), beside the perf summaries in `<scenario>/perf/`, appended
row by row so a killed search keeps the probes it finished (`cibench.artifacts.capacity`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from cibench.artifacts.capacity import PROBE_COLUMNS, CapacityRow
from cibench.artifacts.codec import append_cells, encode, read_cells

__all__ = ["append_capacity", "append_probe", "capacity_path", "probes_path", "read_cells"]


def _stamped(directory: Path, stem: str, provider: str) -> Path:
    existing = sorted(directory.glob(f"{stem}_{provider}_*.csv"))
    if existing:
        return existing[-1]
    return directory / f"{stem}_{provider}_{time.strftime('%Y-%m-%d_%H_%M_%S')}.csv"


def capacity_path(directory: Path, provider: str) -> Path:
    """This run's `capacity_<provider>_<time>.csv` in `directory` (existing one reused)."""
    return _stamped(directory, "capacity", provider)


def probes_path(directory: Path, provider: str) -> Path:
    """This run's `probes_<provider>_<time>.csv` in `directory` (existing one reused)."""
    return _stamped(directory, "probes", provider)


def append_probe(path: Path, values: Mapping[str, object]) -> None:
    """One probe row: `PROBE_COLUMNS`, then the measured value of every SLO key."""
    order = [*PROBE_COLUMNS, *(key for key in values if key not in PROBE_COLUMNS)]
    append_cells(path, {column: encode(values.get(column)) for column in order})


def append_capacity(path: Path, row: CapacityRow) -> None:
    """One search's answer."""
    append_cells(path, row.to_cells())
