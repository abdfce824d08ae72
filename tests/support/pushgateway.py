"""A real Pushgateway on loopback and `promtool check metrics`, as pytest fixtures."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cibench.launch.process import free_port, parent_death_signal, terminate

PUSHGATEWAY_BINARIES = ("prometheus-pushgateway", "pushgateway")


def pushgateway_binary() -> str | None:
    """The Pushgateway executable on PATH (Debian names it `prometheus-pushgateway`)."""
    for name in PUSHGATEWAY_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def run_pushgateway(binary: str, startup_timeout: float = 15.0) -> Iterator[str]:
    """Run a Pushgateway on a free loopback port with a scratch persistence file; yield its URL."""
    with tempfile.TemporaryDirectory(prefix="cibench-pgw-") as scratch:
        port = free_port()
        log_path = Path(scratch) / "pushgateway.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--persistence.file={scratch}/pushgateway.data",
                    "--web.enable-admin-api",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # libc is loaded before the fork; the child only makes one syscall
                preexec_fn=parent_death_signal(),  # noqa: PLW1509
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{binary} exited with {proc.returncode}: {log_path.read_text()[-2000:]}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} not ready after {startup_timeout} s at {url}")
                time.sleep(0.05)
            yield url
        finally:
            terminate(proc)


def wipe_pushgateway(url: str) -> None:
    """Delete every group (needs `--web.enable-admin-api`, which `run_pushgateway` passes)."""
    httpx.put(f"{url}/api/v1/admin/wipe", timeout=5.0).raise_for_status()


def promtool_check(path: Path) -> str:
    """Run `promtool check metrics` on a file; raise AssertionError with its output on failure."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise FileNotFoundError("promtool is not on PATH (apt-get install prometheus)")
    with path.open("rb") as handle:
        done = subprocess.run(
            [promtool, "check", "metrics"], stdin=handle, capture_output=True, check=False
        )
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    if done.returncode != 0 or output.strip():
        raise AssertionError(f"promtool check metrics {path} (rc {done.returncode}):\n{output}")
    return output


def require_tool(found: str | None, what: str, package: str) -> str:
    """The tool's path; skip the test when it is absent, but fail when running in CI."""
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not on PATH but CI=true: install it (apt-get install {package}).")
    pytest.skip(f"{what} not installed (apt-get install {package}); CI installs it.")


@pytest.fixture(scope="session")
def pushgateway_server() -> Iterator[str]:
    """One real Pushgateway on 127.0.0.1 for the test session; yields its URL."""
    binary = require_tool(pushgateway_binary(), "prometheus-pushgateway", "prometheus-pushgateway")
    with run_pushgateway(binary) as url:
        yield url


@pytest.fixture
def pushgateway(pushgateway_server: str) -> str:
    """The session's Pushgateway, emptied before the test."""
    wipe_pushgateway(pushgateway_server)
    return pushgateway_server


@pytest.fixture
def check_metrics() -> Callable[[Path], str]:
    """`check_metrics(path)`: `promtool check metrics` must accept the file."""
    require_tool(shutil.which("promtool"), "promtool", "prometheus")
    return promtool_check
