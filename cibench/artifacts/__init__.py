"""The run-directory contract: typed models of every file a run writes, one writer, one reader.

Everything that writes into `artifacts/<run_id>/` goes through `RunWriter`; everything that
reads a run directory goes through `RunReader`. The CSV codec (`codec`) is the only place where
"no data" (`None`) becomes the acs-bench `-1` sentinel and back.

    artifacts/<run_id>/session.json            SessionFile
    artifacts/<run_id>/gates.json              GatesFile
    artifacts/<run_id>/<scenario>/run.json     RunFile
    .../<scenario>/functional*.csv             FunctionalCaseRow
    .../<scenario>/perf/summary_*.csv          PerfSummaryRow (one per load point)
    .../<scenario>/perf/requests_*.csv         PerfRequestRow (one per request)
    .../<scenario>/accuracy.csv                AccuracyRow
    .../<scenario>/perf/capacity_*.csv         CapacityRow (one per SLO search or ladder)
    .../<scenario>/perf/probes_*.csv           ProbeRow (one per probe or ladder step)
    .../<scenario>/perf/soak_*.csv             SoakRow (one per drift metric of a soak)
"""

from cibench.artifacts.capacity import CapacityKey, CapacityRow, ProbeRow, SoakRow, metric_name
from cibench.artifacts.files import (
    GatesFile,
    RunFile,
    SessionFile,
    SessionScenario,
    VerdictRecord,
)
from cibench.artifacts.reader import (
    RunReader,
    RunResults,
    ScenarioResults,
    SoakVerdict,
    read_requests,
    read_run,
    read_summary,
)
from cibench.artifacts.rows import (
    AccuracyRow,
    FunctionalCaseRow,
    LatencyStats,
    LoadPointKey,
    PerfRequestRow,
    PerfSummaryRow,
)
from cibench.artifacts.writer import RunWriter, ScenarioWriter

__all__ = [
    "AccuracyRow",
    "CapacityKey",
    "CapacityRow",
    "FunctionalCaseRow",
    "GatesFile",
    "LatencyStats",
    "LoadPointKey",
    "PerfRequestRow",
    "PerfSummaryRow",
    "ProbeRow",
    "RunFile",
    "RunReader",
    "RunResults",
    "RunWriter",
    "ScenarioResults",
    "ScenarioWriter",
    "SessionFile",
    "SessionScenario",
    "SoakRow",
    "SoakVerdict",
    "VerdictRecord",
    "metric_name",
    "read_requests",
    "read_run",
    "read_summary",
]
