"""Fault injection: seeded draws for errors, in-band SSE errors and stalls, plus health state."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Which faults to inject and how often (ratios are fractions of generation requests)."""

    error_ratio: float = 0.0
    sse_error_ratio: float = 0.0
    stall_ratio: float = 0.0
    stall_seconds: float = 0.0
    slow_start_seconds: float = 0.0
    crash_after: int = 0
    unhealthy_after_bad_request: bool = False


class Faults:
    """Decides, per request, which fault (if any) to inject; tracks health-related state."""

    def __init__(
        self, settings: FaultSettings, rng: random.Random, clock: Callable[[], float]
    ) -> None:
        self._settings = settings
        self._rng = rng
        self._clock = clock
        self._started_s = clock()
        self._completed = 0
        self._poisoned = False

    def healthy(self) -> bool:
        """Whether /health answers 200 now."""
        if self._clock() - self._started_s < self._settings.slow_start_seconds:
            return False
        return not self._poisoned

    def fail_request(self) -> bool:
        """Whether this request is answered with HTTP 500."""
        return self._draw(self._settings.error_ratio)

    def sse_error(self) -> bool:
        """Whether this stream sends an in-band error half-way."""
        return self._draw(self._settings.sse_error_ratio)

    def stall_seconds(self) -> float:
        """How long this stream goes silent half-way (0: not stalled)."""
        if self._settings.stall_seconds > 0 and self._draw(self._settings.stall_ratio):
            return self._settings.stall_seconds
        return 0.0

    def bad_request(self) -> None:
        """Note a 400 answer (turns /health 503 with --unhealthy-after-bad-request)."""
        if self._settings.unhealthy_after_bad_request:
            self._poisoned = True

    def request_completed(self) -> bool:
        """Count a completed request; True when the process must now crash."""
        self._completed += 1
        return 0 < self._settings.crash_after <= self._completed

    def _draw(self, ratio: float) -> bool:
        # no draw at ratio 0 keeps the generator's sequence independent of unused faults
        return ratio > 0.0 and self._rng.random() < ratio
