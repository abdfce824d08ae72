"""Poll a server's `/health` with exponential backoff until it answers 200 or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class HealthResult:
    """The outcome of waiting: healthy or not, after how long, and the last thing observed."""

    healthy: bool
    waited_seconds: float
    last_observation: str
    stopped_reason: str | None = None


def backoff_delays(
    initial: float = 0.05, factor: float = 1.6, cap: float = 5.0
) -> Callable[[], float]:
    """A stateful generator of sleep intervals: 0.05 s, 0.08 s, … up to `cap` seconds."""
    current = initial / factor

    def next_delay() -> float:
        nonlocal current
        current = min(cap, current * factor)
        return current

    return next_delay


def wait_healthy(
    base_url: str,
    timeout_seconds: float,
    *,
    headers: dict[str, str] | None = None,
    still_running: Callable[[], str | None] = lambda: None,
    request_timeout: float = 5.0,
) -> HealthResult:
    """Poll `GET {base_url}/health` until 200, the deadline, or `still_running()` reports a death.

    `still_running` returns None while the server process lives, else why it stopped; this lets
    a local launcher notice a crash at start-up at once instead of waiting out the timeout.
    """
    started = time.monotonic()
    deadline = started + timeout_seconds
    next_delay = backoff_delays()
    observation = "no answer yet"
    with httpx.Client(timeout=request_timeout, headers=headers) as client:
        while True:
            stopped = still_running()
            if stopped is not None:
                return HealthResult(False, time.monotonic() - started, observation, stopped)
            try:
                response = client.get(f"{base_url}/health")
                if response.status_code == 200:
                    return HealthResult(True, time.monotonic() - started, "200")
                observation = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                observation = _describe_transport_error(exc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return HealthResult(False, time.monotonic() - started, observation)
            time.sleep(min(next_delay(), remaining))


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__
