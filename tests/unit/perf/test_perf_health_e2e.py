"""The harness-health verdict fires on a real run when the client itself is the limit.

A thread in the test process holds the GIL in long stretches (one `sum(range(...))` is a
single C call, so no other thread runs until it returns): the client's readers and its
dispatcher wait, exactly as they would behind a busy client. The simulator stays unaffected
(another process), so whatever the verdict flags is the harness's own delay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter
from cibench.config.perf import PerfProfile
from cibench.perf.runner import RunTarget, run_point
from cibench.sim.testing import run_simulator
from tests.support.csv_cells import read_summary

FAST = ("--prefill-base-ms", "5", "--itl-base-ms", "5", "--jitter", "0")


HOG_STRETCH_S = 0.05
"""How long each GIL-holding stretch lasts: twice the 25 ms receive-lag limit on any CPU."""


def gil_stretch(seconds: float) -> int:
    """The `sum(range(n))` size that holds the GIL about `seconds` on this machine.

    A fixed size measured ~30 ms here and could be under the limit on a faster CPU (CI once
    saw no breach at all), so the size is measured, not assumed.
    """
    n = 100_000
    took = []
    for _ in range(5):
        start = time.perf_counter()
        sum(range(n))
        took.append(time.perf_counter() - start)
    # The fastest try is the CPU's speed; slower ones were descheduled, and reading them as
    # speed would shrink the stretch.
    return max(n, int(n * seconds / max(min(took), 1e-6)))


@contextmanager
def gil_hog(stretch_s: float = HOG_STRETCH_S) -> Iterator[None]:
    """Keep the GIL busy in `stretch_s`-long stretches while the block runs."""
    chunk = gil_stretch(stretch_s)
    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():
            sum(range(chunk))

    thread = threading.Thread(target=hog, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run(url: str, tmp_path: Path, **fields: object) -> tuple[list[str], dict[str, object]]:
    chosen = PerfProfile.model_validate(
        {"input_length": [16], "output_length": [8], "warmup": 1, "timeout_seconds": 30, **fields}
    )
    target = RunTarget(url, "sim-model", "sim", "sim-test")
    with gil_hog():
        outcome = run_point(target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    assert outcome.summary.failures == 0
    assert any(p.startswith("harness bottleneck") for p in outcome.problems(0.05))
    (row,) = read_summary(outcome.summary_csv)
    return outcome.health.codes, row


@pytest.mark.parametrize("backend", ["threading-pool", "asyncio"])
def test_a_client_stalled_by_a_cpu_hog_is_flagged_for_receive_lag(
    tmp_path: Path, backend: str
) -> None:
    with run_simulator(*FAST) as url:
        codes, row = run(url, tmp_path, backend=backend, concurrency=[2], num_requests=10)
    assert "receive-lag" in codes
    assert row["Harness_Bottleneck"] == 1
    assert "receive-lag" in str(row["Harness_Reason"])
    assert float(row["TP99_Receive_Lag(s)"]) > 0.010


def test_an_open_loop_that_falls_behind_its_schedule_is_flagged_for_late_sends(
    tmp_path: Path,
) -> None:
    with run_simulator(*FAST) as url:
        codes, row = run(
            url,
            tmp_path,
            backend="threading-pool",
            control_method="poisson",
            request_rate=[40.0],
            num_requests=40,
        )
    assert "late-sends" in codes
    assert float(row["TP99_Send_Lag(s)"]) > 0.025
    assert float(row["Schedule_Span(s)"]) > 0.9
