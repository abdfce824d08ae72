"""Process helpers shared by everything that starts a server: free ports, die-with-parent."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import socket
import subprocess
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def parent_death_signal(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that sends `sig` to the child when its parent dies, even by SIGKILL.

    A test run killed by a CI timeout then leaves no server behind. The kernel watches the
    *thread* that forked, so start servers from a thread that lives as long as they should
    (pytest fixtures and the CLI use the main thread). Linux only: elsewhere (no `prctl`)
    this returns None and the caller's own cleanup is all there is.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def set_signal() -> None:
        prctl(PR_SET_PDEATHSIG, sig)

    return set_signal


def terminate(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """SIGTERM one process, wait up to `grace_seconds`, then SIGKILL it; no-op once it exited."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
