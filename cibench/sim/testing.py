"""`run_simulator`: start `python -m cibench.sim` on a free loopback port for the span of a test."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any

import httpx

from cibench.launch.process import free_port, parent_death_signal, terminate


@contextlib.contextmanager
def run_simulator(
    *args: str,
    startup_timeout: float = 15.0,
    wait_healthy: bool = True,
    host: str = "127.0.0.1",
    launcher: Sequence[str] = (),
) -> Iterator[str]:
    """Run the simulator with extra command-line `args`; yields its base URL (`http://host:port`).

    Waits until `/health` answers 200 (or, with `wait_healthy=False` or `--slow-start-seconds`,
    until the port answers at all). `launcher` prefixes the command (e.g. `("taskset", "-c", "0")`).
    On exit the process is terminated, then killed after 5 s.
    A simulator that dies or never comes up raises `RuntimeError` carrying its log.
    """
    port = free_port(host)
    # a file, not a pipe, so a chatty server never blocks; closed in the finally below
    log = tempfile.TemporaryFile()  # noqa: SIM115
    cmd = [
        *launcher,
        sys.executable,
        "-m",
        "cibench.sim",
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        preexec_fn=parent_death_signal(),  # noqa: PLW1509 (started before any test threads)
    )
    base_url = f"http://{host}:{port}"
    try:
        _wait_up(proc, base_url, startup_timeout, wait_healthy, log)
        yield base_url
    finally:
        terminate(proc)
        log.close()


def _wait_up(
    proc: subprocess.Popen[bytes],
    base_url: str,
    timeout: float,
    wait_healthy: bool,
    log: IO[bytes],
) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"simulator exited with status {proc.returncode} before becoming healthy: "
                    f"{_read_log(log)}"
                )
            try:
                status = client.get(f"{base_url}/health").status_code
            except httpx.TransportError as exc:
                last_error = repr(exc)
            else:
                if status == 200 or not wait_healthy:
                    return
                last_error = f"/health answered {status}"
            time.sleep(0.02)
    raise RuntimeError(
        f"simulator at {base_url} not up after {timeout} s ({last_error}): {_read_log(log)}"
    )


def _read_log(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-4000:]


def sse_events(raw: str) -> list[Any]:
    """The events of an SSE body: parsed JSON objects, and the string "[DONE]" for the sentinel.

    Raises `ValueError` when an event is not `data: ...` framed as vLLM does.
    """
    events: list[Any] = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        if not block.startswith("data: "):
            raise ValueError(f"not an SSE data event: {block[:80]!r}")
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events
