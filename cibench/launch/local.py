"""Start a scenario's server as a local subprocess, wait until healthy, and stop its whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import IO

from cibench.client.endpoint import Endpoint, ServerProcess, auth_headers
from cibench.config.scenario import Scenario
from cibench.errors import AuthError, LaunchError
from cibench.launch.base import resolve_api_key
from cibench.launch.command import render_command
from cibench.launch.external import auth_hint
from cibench.launch.health import wait_healthy
from cibench.launch.process import free_port, older_listener, parent_death_signal, port_is_free

LOG_TAIL_LINES = 20


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log file, or a note that it is empty."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            tail = deque(handle, maxlen=lines)
    except OSError:
        return "(no log)"
    return "".join(tail).rstrip() or "(log is empty)"


class LocalLauncher:
    """Runs `scenario.command` in its own process group, logging to `log_dir/server.log`.

    Nothing happens until `start()`; `stop()` sends SIGTERM to the group, waits, then SIGKILLs.
    """

    def __init__(self, scenario: Scenario, log_dir: Path, term_grace_seconds: float = 10.0) -> None:
        self.scenario = scenario
        self.log_path = log_dir / "server.log"
        self.term_grace_seconds = term_grace_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process-group id), once started."""
        return self._process.pid if self._process else None

    def start(self) -> Endpoint:
        """Launch the command and block until `/health` answers 200; raise `LaunchError` if not."""
        scenario = self.scenario
        api_key = resolve_api_key(scenario)
        port = scenario.port or free_port(scenario.host)
        if scenario.port and not port_is_free(scenario.host, port):
            raise LaunchError(
                f"scenario '{scenario.id}': port {port} on {scenario.host} is already in use by "
                f"another process, so cibench would measure that server instead of its own. "
                f"Stop it, or change 'port' in the scenario file (without 'port' cibench picks "
                f"a free one)."
            )
        argv = render_command(scenario, scenario.host, port)
        base_url = f"http://{scenario.host}:{port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_path.open("ab")
        env = {**os.environ, **scenario.env}
        try:
            self._process = subprocess.Popen(
                argv,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=parent_death_signal(),  # noqa: PLW1509 (no threads run yet)
            )
        except OSError as exc:
            self._close_log()
            raise LaunchError(
                f"scenario '{scenario.id}': cannot run {argv[0]!r} ({exc.strerror}). Check "
                f"'command' in the scenario file and that the program is installed."
            ) from exc
        try:
            self._check_healthy(base_url, port, api_key)
        except BaseException:
            self.stop()  # also on Ctrl-C or SIGTERM during start-up: no server is left behind
            raise
        process = ServerProcess(self.pid, self.log_path, self._exit_description)
        return Endpoint(
            scenario=scenario,
            base_url=base_url,
            model=scenario.model_name,
            api_key=api_key,
            process=process,
        )

    def _check_healthy(self, base_url: str, port: int, api_key: str | None) -> None:
        """Wait for `/health`, then make sure the server answering is ours and still alive."""
        scenario = self.scenario
        result = wait_healthy(
            base_url,
            scenario.startup_timeout_seconds,
            headers=auth_headers(api_key),
            still_running=self._exit_description,
        )
        if result.refused_status is not None:
            raise AuthError(
                f"scenario '{scenario.id}': GET {base_url}/health: "
                f"{auth_hint(result.refused_status, api_key)}"
            )
        if not result.healthy:
            raise LaunchError(
                self._failure_message(
                    base_url, result.stopped_reason, result.waited_seconds, result.last_observation
                )
            )
        stopped = self._exit_description()
        if stopped is not None:
            raise LaunchError(
                self._failure_message(base_url, stopped, result.waited_seconds, "200")
                + f"\n  Yet {base_url}/health answered 200: another process serves that port."
            )
        foreign = older_listener(port, self._process.pid) if self._process else None
        if foreign is not None:
            raise LaunchError(
                f"scenario '{scenario.id}': {base_url} is served by process {foreign}, which "
                f"was running before cibench started the scenario's server; cibench would "
                f"measure the wrong server. Stop process {foreign} or change 'port' in the "
                f"scenario file.\n  Server log: {self.log_path}"
            )

    def died(self) -> str | None:
        """Why the server is gone (`server died with exit code 1, see …/server.log`), or None."""
        code = self._process.poll() if self._process is not None else None
        if code is None:
            return None
        stopped = (
            f"on signal {signal.Signals(-code).name}" if code < 0 else f"with exit code {code}"
        )
        return (
            f"server died {stopped} while the tests ran; see "
            f"{self.log_path}\n  Last lines:\n"
            + "\n".join(f"    {line}" for line in log_tail(self.log_path).splitlines())
        )

    def _exit_description(self) -> str | None:
        if self._process is None:
            return "not started"
        code = self._process.poll()
        if code is None:
            return None
        if code < 0:
            return f"exited on signal {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def _failure_message(
        self, base_url: str, stopped: str | None, waited: float, observation: str
    ) -> str:
        scenario = self.scenario
        if stopped is not None:
            head = (
                f"scenario '{scenario.id}': server {stopped} after {waited:.1f} s, "
                f"before it became healthy."
            )
        else:
            head = (
                f"scenario '{scenario.id}': not healthy after {waited:.0f} s "
                f"(GET {base_url}/health: {observation}). Raise startup_timeout_seconds in "
                f"the scenario file if the model loads slowly."
            )
        return f"{head}\n  Server log: {self.log_path}\n  Last lines:\n" + "\n".join(
            f"    {line}" for line in log_tail(self.log_path).splitlines()
        )

    def stop(self) -> None:
        """Terminate the whole process group: SIGTERM, wait `term_grace_seconds`, then SIGKILL."""
        process, self._process = self._process, None
        if process is not None:
            _terminate_group(process, self.term_grace_seconds)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


def _terminate_group(process: subprocess.Popen[bytes], grace_seconds: float) -> None:
    # The server runs in its own session, so its pid is the group id; signalling the group
    # also reaches children (vLLM's engine cores, tokenizer workers) that would otherwise leak.
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(group, signal.SIGKILL)
    process.wait()


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(group, sig)
