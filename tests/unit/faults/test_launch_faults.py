"""Local servers under faults: a foreign server on the port, a server that dies, an interrupt
during start-up with an `sh -c` wrapped command. The server is never measured in error and
never left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_support import TINY, clean_env, copy_configs, pytest_command, small_matrix, write_yaml
from hostile_server import HostileServer, answer

from cibench.config.scenario import Scenario
from cibench.errors import LaunchError
from cibench.launch import LocalLauncher
from cibench.launch.process import free_port, older_listener
from cibench.servers import RunFacts, ServerPool


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def tiny_scenario(pidfile: Path, *flags: str, port: int | None = None) -> Scenario:
    inner = f"{{python}} {TINY} {{port}} {pidfile} {' '.join(flags)}"
    return Scenario(
        id="tiny",
        mode="local",
        model="tiny",
        command=f"sh -c '{inner}'",  # the wrapper forks: the server is a grandchild
        port=port,
        startup_timeout_seconds=20,
    )


def test_a_foreign_server_on_the_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with HostileServer(lambda _: answer(200)) as foreign:
        scenario = tiny_scenario(tmp_path / "pid", port=foreign.port)
        with pytest.raises(LaunchError, match=f"port {foreign.port} .* already in use"):
            LocalLauncher(scenario, tmp_path).start()
        assert foreign.requests == []  # not health-checked, not benchmarked
    assert not (tmp_path / "pid").exists()  # our server was never started


def test_a_listener_older_than_our_server_is_named_as_foreign(tmp_path: Path) -> None:
    with HostileServer(lambda _: answer(200)) as foreign:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert older_listener(foreign.port, child.pid) == os.getpid()
            assert older_listener(free_port(), child.pid) is None
        finally:
            child.kill()
            child.wait()


def test_a_server_that_dies_is_named_as_the_cause(tmp_path: Path) -> None:
    facts = RunFacts("run", "pr", "c", "b")
    pool = ServerPool(tmp_path, facts)
    scenario = tiny_scenario(tmp_path / "pid", "--exit-after", "0.5", "3")
    pool.endpoint(scenario)
    pid = int((tmp_path / "pid").read_text())
    assert wait_for(lambda: not alive(pid), 10)
    with pytest.raises(LaunchError) as caught:
        pool.endpoint(scenario)
    message = str(caught.value)
    assert "died with exit code 3" in message
    assert "server.log" in message
    with pytest.raises(LaunchError, match="died with exit code 3"):
        pool.endpoint(scenario)  # every later test of the scenario says the same
    assert "died with exit code 3" in (tmp_path / "tiny" / "run.json").read_text()
    pool.stop_current()


def sigint_as_at_a_terminal() -> None:
    """In the child before exec: SIGINT back to its default. A test runner started in the
    background of a non-interactive shell ignores SIGINT (POSIX), and its children inherit
    that; a user's Ctrl-C reaches a pytest that does not ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_start_up_stops_the_wrapped_server(
    tmp_path: Path, sig: signal.Signals
) -> None:
    configs = copy_configs(tmp_path)
    pidfile = tmp_path / "server.pid"
    scenario = tiny_scenario(pidfile, "--delay", "60")  # never healthy while the test runs
    write_yaml(configs / "scenarios" / "tiny.yaml", scenario.model_dump(exclude_none=True))
    small_matrix(configs, "tiny")
    artifacts = tmp_path / "artifacts"
    with subprocess.Popen(
        pytest_command(configs, artifacts, "--scenario", "tiny", "--run-type", "pr"),
        cwd=Path(__file__).resolve().parents[3],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=sigint_as_at_a_terminal,  # noqa: PLW1509 (async-signal-safe: one sigaction)
    ) as run:
        try:
            assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 60), (
                "the server never started"
            )
            server_pid = int(pidfile.read_text())
            run.send_signal(sig)
            output, _ = run.communicate(timeout=60)
        finally:
            run.kill()
    assert wait_for(lambda: not alive(server_pid), 15), f"server {server_pid} left running"
    assert run.returncode == 2, output[-3000:]  # pytest's "interrupted"
    assert "Traceback" not in output
