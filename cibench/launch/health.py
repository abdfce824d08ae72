"""Poll a server's `/health` with exponential backoff until it answers 200 or a deadline passes.

Each probe has a total deadline, not a per-read one: a server that drips one byte a second
must not stretch the wait beyond `startup_timeout_seconds`. Only the status line is read.
"""

from __future__ import annotations

import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

PROGRESS_INTERVAL_SECONDS = 10.0
AUTH_STATUSES = (401, 403)
_MAX_STATUS_LINE = 1024


@dataclass(frozen=True)
class HealthResult:
    """The outcome of waiting: healthy or not, after how long, and the last thing observed.

    `stopped_reason` says why the wait ended early (the process died, or `refused_status`: the
    server answered 401/403, which waiting longer does not change).
    """

    healthy: bool
    waited_seconds: float
    last_observation: str
    stopped_reason: str | None = None
    refused_status: int | None = None


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


def print_progress(line: str) -> None:
    """Write a progress line to the real stderr (pytest's capture would hold it back)."""
    stream = sys.__stderr__ or sys.stderr
    print(f"cibench: {line}", file=stream, flush=True)


def health_status(url: str, headers: dict[str, str], deadline: float) -> int:
    """The status code `GET url` answers, read before `deadline` (monotonic) or `TimeoutError`.

    Raises OSError for a refused or reset connection and ValueError for a reply that is not
    HTTP.
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    with socket.create_connection((host, port), timeout=remaining) as raw:
        sock: socket.socket = raw
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
        lines = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while b"\r\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no status line before the deadline")
            sock.settimeout(remaining)
            chunk = sock.recv(256)
            if not chunk:
                raise ConnectionResetError("closed without an answer")
            received += chunk
            if len(received) > _MAX_STATUS_LINE:
                break
    status_line = received.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split()
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ValueError(f"not an HTTP answer: {status_line[:60]!r}")
    return int(fields[1])


def wait_healthy(
    base_url: str,
    timeout_seconds: float,
    *,
    headers: dict[str, str] | None = None,
    still_running: Callable[[], str | None] = lambda: None,
    request_timeout: float = 5.0,
    progress: Callable[[str], None] | None = print_progress,
    progress_every: float = PROGRESS_INTERVAL_SECONDS,
) -> HealthResult:
    """Poll `GET {base_url}/health` until 200, the deadline, or `still_running()` reports a death.

    `still_running` returns None while the server process lives, else why it stopped; this lets
    a local launcher notice a crash at start-up at once instead of waiting out the timeout.
    `progress` gets a line every `progress_every` seconds of waiting.
    """
    started = time.monotonic()
    deadline = started + timeout_seconds
    next_progress = started + progress_every
    next_delay = backoff_delays()
    observation = "no answer yet"
    while True:
        stopped = still_running()
        if stopped is not None:
            return HealthResult(False, time.monotonic() - started, observation, stopped)
        cut_short = deadline < time.monotonic() + request_timeout
        probe_deadline = min(deadline, time.monotonic() + request_timeout)
        try:
            status = health_status(f"{base_url}/health", headers or {}, probe_deadline)
        except TimeoutError:
            if not cut_short or observation == "no answer yet":
                observation = f"no complete answer within {request_timeout:g} s"
        except ConnectionRefusedError:
            observation = "connection refused"
        except (OSError, ValueError) as exc:
            observation = str(exc) or type(exc).__name__
        else:
            if status == 200:
                return HealthResult(True, time.monotonic() - started, "200")
            observation = f"HTTP {status}"
            if status in AUTH_STATUSES:
                return HealthResult(
                    False, time.monotonic() - started, observation, refused_status=status
                )
        now = time.monotonic()
        if progress is not None and now >= next_progress:
            progress(
                f"waiting for {base_url}/health: {observation} "
                f"({now - started:.0f} s of {timeout_seconds:g} s)"
            )
            next_progress = now + progress_every
        remaining = deadline - now
        if remaining <= 0:
            return HealthResult(False, now - started, observation)
        time.sleep(min(next_delay(), remaining))
