"""The one phase loop, and the registry of backends it can drive.

A backend (see `cibench.perf.phase.Backend`) only opens connections and sends a phase's
requests on its schedule; this loop does the rest the same way for every backend. A new backend
is one module with a class implementing `Backend`, plus its line in `BACKENDS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence

from cibench.client.record import RequestRecord
from cibench.perf.aio import AsyncioBackend
from cibench.perf.phase import (
    Address,
    Backend,
    BeforePhase,
    Phase,
    Progress,
    Settler,
    all_sent,
    no_gc,
)
from cibench.perf.probe import LagProbe
from cibench.perf.threads import ThreadBackend

__all__ = ["BACKENDS", "UNCAPPED_WARM_CONNECTIONS", "execute", "make_backend"]

BACKENDS: dict[str, Callable[[Address], Backend]] = {
    ThreadBackend.name: ThreadBackend,
    AsyncioBackend.name: AsyncioBackend,
}
"""Backend name (the profile's `backend`) -> constructor."""
UNCAPPED_WARM_CONNECTIONS = 16
"""Connections opened before a phase whose schedule has no concurrency cap."""


def make_backend(name: str, target: Address) -> Backend:
    """The backend called `name`, aimed at `target` (opens nothing yet)."""
    factory = BACKENDS.get(name)
    if factory is None:
        known = "', '".join(BACKENDS)
        raise ValueError(f"unknown backend {name!r}: expected '{known}'")
    return factory(target)


def execute(
    backend: str,
    target: Address,
    phases: Sequence[Phase],
    progress: Progress | None = None,
    before_phase: BeforePhase | None = None,
    probe: LagProbe | None = None,
) -> list[list[RequestRecord]]:
    """Run `phases` in order on `backend`, connections kept open across phases; one list of
    records per phase, in request order.

    With `probe`, its thread samples the client's receive lag for the whole run, and a
    backend with an event loop (a `probe` attribute) adds the loop's lag.
    """
    progress = progress or Progress()
    runner = make_backend(backend, target)
    if probe is not None and hasattr(runner, "probe"):
        runner.probe = probe
    results: list[list[RequestRecord]] = []
    if probe is not None:
        probe.start()
    try:
        for position, given in enumerate(phases):
            wanted = given.schedule.connections_to_open(
                given.request_count, UNCAPPED_WARM_CONNECTIONS
            )
            with contextlib.suppress(OSError):  # each request will record the failure to connect
                runner.connect(wanted)
            start = before_phase(position) if before_phase is not None else None
            phase = dataclasses.replace(given, start_ns=start) if start else given
            progress.reset(phase)
            settler = Settler()
            with no_gc():
                records = runner.send(phase, progress, settler)
            settler.settle_all()
            results.append(all_sent(records, f"the {runner.name} backend"))
    finally:
        runner.close()
        if probe is not None:
            probe.stop()
    return results
