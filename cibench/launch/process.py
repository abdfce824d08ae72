"""Process helpers shared by everything that starts a server: free ports, die-with-parent."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

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


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on `host:port` now (a bind with SO_REUSEADDR succeeds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # fields after the ")" that closes the command name; starttime is field 22 overall
    return int(stat.rsplit(")", 1)[1].split()[19])


def older_listener(port: int, our_pid: int) -> int | None:
    """A process that listens on `port` and was started before `our_pid`, or None.

    Such a process cannot be the server we just started (nor anything it spawned), so it is a
    foreign server answering in place of ours. Linux `/proc` only; elsewhere always None.
    """
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    ours = _start_ticks(our_pid)
    if not inodes or ours is None:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        if _holds_any(entry, inodes):
            started = _start_ticks(int(entry.name))
            if started is not None and started < ours:
                return int(entry.name)
    return None


def _holds_any(process_dir: Path, links: set[str]) -> bool:
    """Whether the process has a file descriptor pointing at one of `links`."""
    try:
        fds = list((process_dir / "fd").iterdir())
    except OSError:  # gone, or another user's
        return False
    for fd in fds:
        try:
            if os.readlink(fd) in links:
                return True
        except OSError:  # closed meanwhile
            continue
    return False
