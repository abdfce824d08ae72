"""Process helpers: stopping a child politely, then firmly."""

from __future__ import annotations

import subprocess
import sys
import time

from cibench.launch.process import terminate

IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_terminate_stops_a_polite_process_with_sigterm() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    terminate(child)
    assert child.returncode == -15


def test_terminate_kills_a_process_that_ignores_sigterm_after_the_grace() -> None:
    child = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    started = time.monotonic()
    terminate(child, grace_seconds=0.3)
    assert child.returncode == -9
    assert time.monotonic() - started < 3
    child.stdout.close()


def test_terminate_is_a_no_op_for_an_exited_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    terminate(child)
    assert child.returncode == 0
