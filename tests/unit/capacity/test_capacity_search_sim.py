"""SLO search end to end against the simulator, where the answer follows from its timing model.

Simulator timing (docs/sim.md): TPOT = itl_base + itl_per_running_seq x running sequences, and at
most `max_num_seqs` run at once (the rest queue, so their TTFT includes a whole request).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter, read_summary
from cibench.artifacts.codec import read_cells as read_rows
from cibench.capacity.driver import run_search
from cibench.config.perf import PerfProfile
from cibench.perf.runner import RunTarget
from cibench.sim.testing import run_simulator

ITL_BASE_MS = 2.0
ITL_PER_SEQ_MS = 8.0
TPOT_SLO_S = 0.070
"""TPOT at c workers = 2 + 8c ms: 66 ms at c=8, 74 ms at c=9, so the answer is 8 (4 ms margin)."""


def target(base_url: str) -> RunTarget:
    return RunTarget(base_url, "sim-model", "sim", "sim-test")


def profile(
    slo: dict[str, float], goodput_slo: dict[str, float] | None = None, **search: object
) -> PerfProfile:
    return PerfProfile.model_validate(
        {
            "control_method": "search",
            "backend": "asyncio",
            "input_length": [16],
            "output_length": [16],
            "num_requests_per_concurrency": 1,
            "warmup": 1,
            "timeout_seconds": 30,
            # a shared 2-core CI box starts many streams late; lag is not what this test is about
            "max_send_lag_ms": 500,
            "max_receive_lag_ms": 500,
            "slo": slo,
            "search": {"start": 4, "max": 64, **search},
            "goodput_slo": goodput_slo,
        }
    )


@pytest.fixture(scope="module")
def fast_sim() -> Iterator[str]:
    with run_simulator("--itl-base-ms", "1") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def tpot_sim() -> Iterator[str]:
    with run_simulator(
        "--prefill-base-ms", "5", "--prefill-per-token-ms", "0", "--jitter", "0",
        "--itl-base-ms", str(ITL_BASE_MS), "--itl-per-running-seq-ms", str(ITL_PER_SEQ_MS),
    ) as base_url:  # fmt: skip
        yield base_url


def test_search_finds_the_concurrency_where_tpot_breaks(tpot_sim: str, tmp_path: Path) -> None:
    result = run_search(
        target(tpot_sim), profile({"tpot_p99_s": TPOT_SLO_S}), 16, 8, ScenarioWriter(tmp_path)
    )
    assert [p.load for p in result.probes] == [4, 8, 16, 12, 10, 9]
    assert [p.verdict for p in result.probes] == [
        "pass",
        "pass",
        "break",
        "break",
        "break",
        "break",
    ]
    assert (result.capacity, result.lowest_breaking, result.converged) == (8, 9, True)
    assert result.capacity_csv is not None
    assert result.probes_csv is not None
    (row,) = read_rows(result.capacity_csv)
    assert (row["Capacity"], row["Stop_Reason"], row["SLO"]) == (
        "8.0",
        "converged",
        "tpot_p99_s=0.07",
    )
    probe_rows = read_rows(result.probes_csv)
    assert [r["Verdict"] for r in probe_rows] == [p.verdict for p in result.probes]
    assert (
        0.062
        < float(probe_rows[1]["tpot_p99_s"])
        < TPOT_SLO_S
        < float(probe_rows[-1]["tpot_p99_s"])
    )
    # every probe is an ordinary load point of the summary, so the whole curve is kept
    (summary,) = (tmp_path / "perf").glob("summary_sim_search_asyncio_*.csv")
    assert [row.concurrency for row in read_summary(summary)] == [4, 8, 16, 12, 10, 9]


def test_search_with_a_goodput_limit_finds_where_requests_stop_meeting_the_tpot_slo(
    tpot_sim: str, tmp_path: Path
) -> None:
    """The same answer through goodput: every request's TPOT is 2 + 8c ms, so at 9 workers
    (nearly) no request meets `tpot_s: 0.070` and the good share falls under `min_good_ratio`."""
    searched = profile({"min_good_ratio": 0.95}, goodput_slo={"tpot_s": TPOT_SLO_S})
    result = run_search(target(tpot_sim), searched, 16, 8, ScenarioWriter(tmp_path))
    assert (result.capacity, result.lowest_breaking, result.converged) == (8, 9, True)
    probe_rows = read_rows(result.probes_csv) if result.probes_csv else []
    assert [float(r["min_good_ratio"]) for r in probe_rows][:2] == [1.0, 1.0]
    assert float(probe_rows[-1]["min_good_ratio"]) < 0.95
    assert re.match(r"min_good_ratio [\d.]+ < 0\.95", probe_rows[-1]["Breaches"])


def test_search_finds_max_num_seqs_with_a_ttft_slo(tmp_path: Path) -> None:
    """With 8 slots, the 9th stream waits a whole request (~16 x 10 ms) before its first token."""
    with run_simulator(
        "--max-num-seqs", "8", "--prefill-base-ms", "5", "--prefill-per-token-ms", "0",
        "--itl-base-ms", "10", "--itl-per-running-seq-ms", "0", "--jitter", "0",
    ) as base_url:  # fmt: skip
        result = run_search(
            target(base_url), profile({"ttft_p99_s": 0.08}), 16, 16, ScenarioWriter(tmp_path)
        )
    assert (result.capacity, result.lowest_breaking) == (8, 9)
    assert [p.load for p in result.probes] == [4, 8, 16, 12, 10, 9]


@pytest.mark.parametrize(
    ("search", "probes", "reason"),
    [
        ({"max_probes": 2}, 2, "probe budget spent (2 probes)"),
        ({"time_budget_seconds": 0.01}, 1, "time budget spent"),
    ],
)
def test_search_stops_at_its_budgets_and_says_why(
    search: dict[str, object], probes: int, reason: str, fast_sim: str, tmp_path: Path
) -> None:
    result = run_search(
        target(fast_sim), profile({"tpot_p99_s": 1.0}, **search), 16, 8, ScenarioWriter(tmp_path)
    )
    assert len(result.probes) == probes
    assert [p.verdict for p in result.probes] == ["pass"] * probes
    assert result.stop_reason.startswith(reason)
    assert not result.converged
    assert result.capacity_csv is not None
    (row,) = read_rows(result.capacity_csv)
    assert row["Converged"] == "0"
    assert row["Stop_Reason"] == result.stop_reason


def test_a_failing_server_stops_the_search(tmp_path: Path) -> None:
    with run_simulator("--error-ratio", "1") as base_url:
        result = run_search(
            target(base_url), profile({"tpot_p99_s": 1.0}), 16, 8, ScenarioWriter(tmp_path)
        )
    assert [p.verdict for p in result.probes] == ["server failing"]
    assert result.stop_reason == "server failing at 4: every request failed (HTTP500 x4)"
    assert (result.capacity, result.converged) == (None, False)


def test_a_harness_bound_probe_stops_the_search(tpot_sim: str, tmp_path: Path) -> None:
    strict = profile({"tpot_p99_s": 1.0}).model_copy(update={"max_send_lag_ms": 1e-6})
    result = run_search(target(tpot_sim), strict, 16, 8, ScenarioWriter(tmp_path))
    assert [p.verdict for p in result.probes] == ["harness-bound"]
    assert result.stop_reason.startswith("harness-bound at 4: sends left late: lateness p99")
    assert result.capacity is None
