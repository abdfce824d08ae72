"""`workers: N`: one load point sent from several processes on one clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cibench.artifacts import ScenarioWriter
from cibench.client.stream import PreparedRequest
from cibench.config.perf import PerfProfile
from cibench.errors import CibenchError
from cibench.perf.phase import Address, Phase
from cibench.perf.runner import RunTarget, run_point
from cibench.perf.schedule import Schedule
from cibench.perf.workers import execute_in_processes, share
from cibench.sim.testing import run_simulator
from tests.support.configs import BUSY_HOST_TOLERANCE
from tests.support.csv_cells import read_requests


def requests(count: int) -> list[PreparedRequest]:
    return [PreparedRequest(index, b"") for index in range(count)]


def test_shares_split_a_schedule_without_changing_it() -> None:
    opened = Phase(requests(5), Schedule(arrival_offsets=(0.0, 0.1, 0.2, 0.3, 0.4), cap=5))
    first, second = share(opened, 2, 0), share(opened, 2, 1)
    assert [r.index for r in first.requests] == [0, 2, 4]
    assert first.schedule.arrival_offsets == (0.0, 0.2, 0.4)
    assert second.schedule.arrival_offsets == (0.1, 0.3)
    assert (first.schedule.cap, second.schedule.cap) == (3, 3)  # the cap, rounded up
    closed = Phase(requests(6), Schedule(worker_offsets=(0.0, 0.0, 0.5)))
    assert share(closed, 2, 0).schedule.worker_offsets == (0.0, 0.5)
    assert share(closed, 2, 1).schedule.worker_offsets == (0.0,)
    assert [r.index for r in share(closed, 2, 1).requests] == [1, 3, 5]


def profile(**changes: Any) -> PerfProfile:
    # lag limits for a busy CI host: these tests check the merged schedule and clock, and the
    # harness-bottleneck verdict has its own tests (test_perf_health.py)
    fields = {"input_length": [16], "output_length": [8], "warmup": 2, "backend": "asyncio",
              "workers": 2, **BUSY_HOST_TOLERANCE}  # fmt: skip
    return PerfProfile.model_validate({**fields, **changes})


@pytest.mark.parametrize("backend", ["asyncio", "threading-pool"])
def test_two_processes_send_one_schedule_on_one_clock(tmp_path: Path, backend: str) -> None:
    closed = profile(backend=backend, concurrency=[4], num_requests=12)
    opened = profile(
        backend=backend,
        control_method="poisson",
        request_rate=[50],
        arrival="constant",
        num_requests=10,
    )
    with run_simulator("--prefill-base-ms", "1", "--itl-base-ms", "1") as url:
        target = RunTarget(url, "sim-model", "sim", "sim-test")
        outcomes = {
            name: run_point(target, p, p.load_points()[0], ScenarioWriter(tmp_path / name))
            for name, p in (("closed", closed), ("open", opened))
        }
    rows = read_requests(outcomes["closed"].requests_csv)
    assert [row["Request_Index"] for row in rows] == list(range(12))  # merged in order
    assert all(row["Success"] == 1 for row in rows)
    assert {row["Worker"] for row in rows} == {0, 1, 2, 3}  # both processes' workers
    rows = read_requests(outcomes["open"].requests_csv)
    # the merged arrivals are the single-process schedule, on one clock
    offsets = [row["Scheduled_Offset(s)"] for row in rows]
    assert offsets == pytest.approx([i * 0.02 for i in range(10)], abs=1e-6)
    assert all(row["Start_Time(s)"] >= row["Scheduled_Offset(s)"] for row in rows)
    assert outcomes["open"].health.reasons == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"concurrency": [1, 4]}, "exceeds the smallest 'concurrency' 1"),
        ({"session": {"turns": 2}, "concurrency": [2]}, "does not combine with 'session'"),
        ({"workers": 65}, "less than or equal to 64"),
    ],
)
def test_workers_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        profile(**changes)


def test_a_failing_process_is_a_clear_error() -> None:
    phase = Phase(requests(2), Schedule(worker_offsets=(0.0, 0.0)))
    target = Address("127.0.0.1", 9, 1.0)
    with pytest.raises(CibenchError, match=r"workers: process \d: ValueError: unknown backend"):
        execute_in_processes("no-such-backend", target, [phase], 2, 5.0)
