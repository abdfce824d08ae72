"""A settable clock for driving the simulator's engine in tests without sleeping."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class FakeClock:
    """Callable like `time.monotonic`; time moves only when a test moves it."""

    now_s: float = 0.0

    def __call__(self) -> float:
        return self.now_s

    def advance_to(self, t: float) -> None:
        """Move time forward (never backwards)."""
        self.now_s = max(self.now_s, t)
