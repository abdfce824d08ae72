"""`perf/resources_*.csv`: one load point's resource timeline, one row per sample."""

from __future__ import annotations

from pathlib import Path

from cibench.artifacts.codec import encode, write_cells
from cibench.monitor.sampler import Timeline
from cibench.monitor.series import SERIES

__all__ = ["TIMELINE_COLUMNS", "write_timeline"]

TIMELINE_COLUMNS = ("Offset(s)", *(series.name for series in SERIES))
"""`Offset(s)` from the load point's start, then every series in base units (bytes, %, W)."""


def write_timeline(path: Path, timeline: Timeline) -> None:
    """Write the samples (a series not sampled at a tick is `-1`)."""
    rows = (
        {
            "Offset(s)": encode(round(offset, 3)),
            **{name: encode(values.get(name)) for name in TIMELINE_COLUMNS[1:]},
        }
        for offset, values in timeline.samples
    )
    write_cells(path, TIMELINE_COLUMNS, rows)
