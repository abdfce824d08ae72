"""`workers: N`: one load point's measured phases sent from N processes, on one clock.

Each process runs its own backend (its own event loop or threads, its own connections) over
its share of every phase: request i goes to process i mod N, open-loop arrival i with it
(so the merged arrivals are exactly the single-process schedule), closed-loop worker w to
process w mod N (so the merged concurrency is the profile's). Before each phase the
processes meet at a barrier and one of them sets an absolute start on
`time.perf_counter_ns()`, which is CLOCK_MONOTONIC on Linux and macOS, shared by every
process of the host: all shares start together and all records land on one clock. The
parent merges the records back into request order and pools the processes' receive-lag
samples for the health verdict.

The same design shards across machines: give each machine (a Kubernetes Indexed Job's pod,
`JOB_COMPLETION_INDEX` = k of N) share k of the same seeded schedule and an agreed Unix start
time; `run.json`'s clock origin maps each machine's monotonic stamps onto Unix time for the
merge (see docs/perf.md).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import queue
import time
import traceback
from collections.abc import Sequence
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier

from cibench.client.record import RequestRecord
from cibench.errors import CibenchError
from cibench.perf.backends import execute
from cibench.perf.phase import Address, Phase
from cibench.perf.probe import LagProbe
from cibench.perf.schedule import Schedule

__all__ = ["SHARED_START_LEAD_NS", "execute_in_processes", "share"]

SHARED_START_LEAD_NS = 50_000_000
"""How far after the barrier the agreed start is: every process must be back in its send
loop by then (a spawned interpreter wakes within a few ms even on a loaded host)."""
_STARTUP_SECONDS = 120.0


def share(phase: Phase, count: int, index: int) -> Phase:
    """Process `index`'s share of `phase` when `count` processes send it (pure)."""
    schedule = phase.schedule
    requests = list(phase.requests)[index::count]
    if schedule.open_loop:
        cap = math.ceil(schedule.cap / count) if schedule.cap else 0
        offsets = schedule.arrival_offsets[index::count]
        return dataclasses.replace(
            phase, requests=requests, schedule=Schedule(arrival_offsets=offsets, cap=cap)
        )
    workers = schedule.worker_offsets[index::count]
    return dataclasses.replace(phase, requests=requests, schedule=Schedule(worker_offsets=workers))


Outcome = tuple[int, list[list[RequestRecord]] | None, list[tuple[int, int]], str | None]
"""(process index, records per phase or None, (woke ns, late ns) probe samples, error)."""


def _process_main(
    index: int,
    count: int,
    backend: str,
    target: Address,
    phases: Sequence[Phase],
    barrier: Barrier,
    start: Synchronized[int],
    results: multiprocessing.Queue[Outcome],
    timeout_s: float,
) -> None:
    """One process: send its share of every phase, each from the agreed start."""
    probe = LagProbe()

    def agreed_start(position: int) -> int:
        if barrier.wait(timeout_s) == 0:
            start.value = time.perf_counter_ns() + SHARED_START_LEAD_NS
        barrier.wait(timeout_s)  # everyone sees the start the leader set
        return int(start.value)

    try:
        mine = [share(phase, count, index) for phase in phases]
        records = execute(backend, target, mine, None, agreed_start, probe)
    except Exception as exc:  # reported to the parent, which raises it as a CibenchError
        barrier.abort()
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        results.put((index, None, [], f"process {index}: {detail}"))
        return
    for phase_records in records:
        for record in phase_records:  # the process's own worker numbers, made unique
            record.worker = record.worker * count + index
    results.put((index, records, probe.samples(), None))


def execute_in_processes(
    backend: str,
    target: Address,
    phases: Sequence[Phase],
    count: int,
    timeout_s: float,
) -> tuple[list[list[RequestRecord]], LagProbe]:
    """Send `phases` from `count` spawned processes (see the module docstring); the records
    of each phase in request order, and a probe holding every process's lag samples.

    :param timeout_s: the longest a process may wait for the others at a phase start, and
        for its results after the last one (the profile's request timeout is a fair bound).
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count)
    start = context.Value("q", 0)
    results: multiprocessing.Queue[Outcome] = context.Queue()
    processes = [
        context.Process(
            target=_process_main,
            args=(i, count, backend, target, phases, barrier, start, results, timeout_s),
            name=f"cibench-perf-{i}",
            daemon=True,
        )
        for i in range(count)
    ]
    for process in processes:
        process.start()
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + _STARTUP_SECONDS + timeout_s
    try:
        while len(outcomes) < count:
            try:
                outcomes.append(results.get(timeout=1.0))
                continue
            except queue.Empty:
                pass
            silent = count - len(outcomes)
            dead = sum(1 for process in processes if process.exitcode not in (None, 0))
            if dead or time.monotonic() > deadline:
                why = f"{dead} exited abnormally" if dead else "the wait timed out"
                raise CibenchError(
                    f"workers: {silent} of {count} processes sent no results ({why})"
                )
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
    errors = [error for _, _, _, error in outcomes if error]
    if errors:
        raise CibenchError(f"workers: {'; '.join(errors)}")
    probe = LagProbe()
    merged: list[list[RequestRecord]] = [[] for _ in phases]
    for _, records, samples, _ in outcomes:
        assert records is not None
        for position, phase_records in enumerate(records):
            merged[position].extend(phase_records)
        for woke_ns, late_ns in samples:
            probe.add(woke_ns, late_ns)
    return [sorted(records, key=lambda r: r.index) for records in merged], probe
