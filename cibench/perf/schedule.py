"""When requests go out: worker activation offsets (fixed, climb) and open-loop arrival offsets
(poisson control method; `arrival`: poisson, constant or gamma with a burstiness factor).

Pure and seeded: no clock, no I/O. Offsets are seconds from the start of a load point; the
runner adds them to its start time and sleeps to those absolute times, so lateness never
accumulates.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the types: this module needs no pydantic at run time
    from cibench.config.perf import LoadPoint, PerfProfile

__all__ = [
    "Schedule",
    "active_workers",
    "arrival_offsets",
    "climb_offsets",
    "constant_offsets",
    "fixed_offsets",
    "gamma_offsets",
    "poisson_offsets",
    "schedule_for",
    "warmup_schedule",
]


@dataclass(frozen=True, slots=True)
class Schedule:
    """Either closed loop (`worker_offsets`: one activation time per worker) or open loop
    (`arrival_offsets`: one send time per request, with an optional in-flight `cap`, 0 = none).
    """

    worker_offsets: tuple[float, ...] = ()
    arrival_offsets: tuple[float, ...] = ()
    cap: int = 0

    @property
    def open_loop(self) -> bool:
        """True when requests follow arrival times rather than free workers."""
        return bool(self.arrival_offsets)

    def connections_to_open(self, requests: int, uncapped: int) -> int:
        """How many connections to open before the clock starts (never more than requests).

        Closed loop: one per worker. Open loop: the in-flight cap, else `uncapped` (more open
        on demand, as arrivals pile up).
        """
        if not self.open_loop:
            return min(len(self.worker_offsets), requests)
        return min(self.cap or uncapped, requests)


def fixed_offsets(concurrency: int) -> list[float]:
    """All `concurrency` workers start at once."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    return [0.0] * concurrency


def climb_offsets(
    init_concurrency: int, growth_rate: int, growth_interval_ms: float, concurrency: int
) -> list[float]:
    """acs-bench climb: `init_concurrency` workers at 0, then `growth_rate` more every interval.

    Worker `i` (0-based) starts at `ceil((i - init + 1) / growth_rate) * interval` for
    `i >= init`, until `concurrency` workers exist.
    """
    if not 1 <= init_concurrency <= concurrency:
        raise ValueError(
            f"init_concurrency must lie in [1, concurrency={concurrency}], got {init_concurrency}"
        )
    if growth_rate < 1:
        raise ValueError(f"growth_rate must be >= 1 for climb, got {growth_rate}")
    interval_s = growth_interval_ms / 1000.0
    offsets = [0.0] * init_concurrency
    for worker in range(init_concurrency, concurrency):
        step = math.ceil((worker - init_concurrency + 1) / growth_rate)
        offsets.append(step * interval_s)
    return offsets


def poisson_offsets(count: int, rate: float, seed: int | str) -> list[float]:
    """Send times of `count` requests with exponential gaps at `rate` req/s, first at 0.

    The gaps come from `random.Random(seed)` and are rescaled so the last request is due at
    exactly `(count - 1) / rate` (as vLLM does): the schedule's mean rate is the requested
    one, and any shortfall measured later is the harness's or the server's, not the dice's.
    """
    _check(count, rate)
    rng = random.Random(seed)
    return _rescaled([rng.expovariate(rate) for _ in range(count - 1)], rate)


def gamma_offsets(count: int, rate: float, burstiness: float, seed: int | str) -> list[float]:
    """Send times with gamma-distributed gaps: shape `burstiness`, mean `1 / rate` (as vLLM's
    `--burstiness`): 1 is Poisson, below 1 bursts and lulls, above 1 more even. Rescaled as
    `poisson_offsets` is, so the last request is due at exactly `(count - 1) / rate`."""
    _check(count, rate)
    if not burstiness > 0:
        raise ValueError(f"burstiness must be > 0, got {burstiness}")
    rng = random.Random(seed)
    scale = 1.0 / (rate * burstiness)
    return _rescaled([rng.gammavariate(burstiness, scale) for _ in range(count - 1)], rate)


def constant_offsets(count: int, rate: float) -> list[float]:
    """Send times exactly `1 / rate` apart."""
    _check(count, rate)
    return [index / rate for index in range(count)]


def _check(count: int, rate: float) -> None:
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate}")


def _rescaled(gaps: list[float], rate: float) -> list[float]:
    """Cumulative offsets of `gaps`, scaled so the last is `len(gaps) / rate` (first at 0)."""
    total = sum(gaps)
    scale = len(gaps) / rate / total if total > 0 else 0.0
    offsets = [0.0]
    now = 0.0
    for gap in gaps:
        now += gap * scale
        offsets.append(now)
    return offsets


def arrival_offsets(profile: PerfProfile, count: int, rate: float, seed: str) -> list[float]:
    """The open-loop send times of `profile.arrival` (poisson, constant or gamma)."""
    if profile.arrival == "constant":
        return constant_offsets(count, rate)
    if profile.arrival == "gamma":
        return gamma_offsets(count, rate, profile.burstiness, seed)
    return poisson_offsets(count, rate, seed)


def active_workers(offsets: list[float], at: float) -> int:
    """How many workers of a closed-loop schedule have started by offset `at`."""
    return sum(1 for offset in offsets if offset <= at)


def schedule_for(profile: PerfProfile, point: LoadPoint, epoch: int = 0) -> Schedule:
    """The measured schedule of one epoch of `point` under `profile`'s control method.

    Climb starts at `init_concurrency` (default 1, never above the point's concurrency).
    Poisson arrivals are seeded by the profile seed, the rate and the epoch. A search probe
    with a request rate goes open loop as poisson does, one without goes closed loop as fixed.
    """
    if profile.control_method == "poisson" or point.request_rate is not None:
        rate = point.request_rate
        if rate is None:
            raise ValueError(f"load point {point.id} has no request_rate for poisson")
        seed = f"{profile.seed}:{rate:g}:{epoch}"
        offsets = arrival_offsets(profile, point.num_requests, rate, seed)
        return Schedule(arrival_offsets=tuple(offsets), cap=point.concurrency)
    if profile.control_method == "climb":
        init = min(profile.init_concurrency or 1, point.concurrency)
        offsets = climb_offsets(
            init, profile.growth_rate, profile.growth_interval_ms, point.concurrency
        )
        return Schedule(worker_offsets=tuple(offsets))
    return Schedule(worker_offsets=tuple(fixed_offsets(point.concurrency)))


def warmup_schedule(profile: PerfProfile, point: LoadPoint) -> Schedule:
    """Warmup requests go closed loop, as many at once as the point allows (at least one)."""
    workers = max(1, min(profile.warmup, point.concurrency or profile.warmup))
    return Schedule(worker_offsets=tuple(fixed_offsets(workers)))
