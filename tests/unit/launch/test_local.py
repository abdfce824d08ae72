"""The local launcher starts a command, waits for health, explains failures and cleans up."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from cibench.config.scenario import Scenario
from cibench.errors import LaunchError
from cibench.launch import ExternalLauncher, LocalLauncher, open_endpoint
from cibench.launch.command import render_args, render_command
from cibench.launch.process import free_port

FAKE = Path(__file__).with_name("fake_server.py")


def fake_scenario(tmp_path: Path, *flags: str, timeout: float = 10.0) -> Scenario:
    pidfile = tmp_path / "child.pid"
    return Scenario(
        id="fake",
        mode="local",
        model="m",
        command=f"{{python}} {FAKE} {{port}} {pidfile} " + " ".join(flags),
        startup_timeout_seconds=timeout,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_args_render_as_kebab_case_flags() -> None:
    assert render_args({"max_num_seqs": 8, "enforce_eager": True, "quiet": False, "x": None}) == [
        "--max-num-seqs",
        "8",
        "--enforce-eager",
    ]
    assert render_args({"served_model_name": ["a", "b"]}) == ["--served-model-name", "a", "b"]


def test_command_template_fills_placeholders() -> None:
    scenario = Scenario(
        id="s",
        mode="local",
        model="Qwen/Qwen2.5 0.5B",
        served_model_name="qwen",
        command="vllm serve {model} --host {host} --port {port} --served-model-name "
        "{served_model_name} {args}",
        args={"max_model_len": 4096},
    )
    assert render_command(scenario, "127.0.0.1", 8011) == [
        "vllm", "serve", "Qwen/Qwen2.5 0.5B", "--host", "127.0.0.1", "--port", "8011",
        "--served-model-name", "qwen", "--max-model-len", "4096",
    ]  # fmt: skip


def test_unknown_placeholder_is_a_clear_error() -> None:
    scenario = Scenario(id="s", mode="local", model="m", command="serve {modle}")
    with pytest.raises(LaunchError, match=r"scenario 's': command template .* unknown"):
        render_command(scenario, "127.0.0.1", 1)


def test_healthy_server_starts_and_teardown_kills_the_whole_group(tmp_path: Path) -> None:
    launcher = LocalLauncher(fake_scenario(tmp_path), tmp_path / "logs")
    endpoint = launcher.start()
    server_pid = launcher.pid
    child_pid = int((tmp_path / "child.pid").read_text())
    assert httpx.get(f"{endpoint.base_url}/health").status_code == 200
    assert endpoint.api_base == f"{endpoint.base_url}/v1"

    launcher.stop()
    assert server_pid is not None
    assert wait_gone(server_pid)
    assert wait_gone(child_pid)
    launcher.stop()  # idempotent


def test_server_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    launcher = LocalLauncher(
        fake_scenario(tmp_path, "--ignore-term"), tmp_path, term_grace_seconds=0.5
    )
    launcher.start()
    pid = launcher.pid
    started = time.monotonic()
    launcher.stop()
    assert pid is not None
    assert wait_gone(pid)
    assert time.monotonic() - started < 5


def test_server_that_exits_at_start_reports_code_and_log_tail(tmp_path: Path) -> None:
    launcher = LocalLauncher(fake_scenario(tmp_path, "--exit-code 3"), tmp_path)
    started = time.monotonic()
    with pytest.raises(LaunchError) as caught:
        launcher.start()
    message = str(caught.value)
    assert "scenario 'fake': server exited with code 3" in message
    assert "refusing to start (simulated bad model path)" in message
    assert str(tmp_path / "server.log") in message
    assert time.monotonic() - started < 5  # noticed at once, not after the timeout


def test_server_that_never_gets_healthy_times_out_clearly(tmp_path: Path) -> None:
    launcher = LocalLauncher(fake_scenario(tmp_path, "--unhealthy", timeout=1.0), tmp_path)
    with pytest.raises(LaunchError) as caught:
        launcher.start()
    message = str(caught.value)
    assert "scenario 'fake': not healthy after 1 s" in message
    assert "/health: HTTP 503" in message
    assert "Raise startup_timeout_seconds" in message
    child_pid = int((tmp_path / "child.pid").read_text())
    assert wait_gone(child_pid)  # the failed start left nothing running


def test_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    scenario = Scenario(id="s", mode="local", model="m", command="no-such-vllm serve {model}")
    with pytest.raises(LaunchError, match=r"cannot run 'no-such-vllm'"):
        LocalLauncher(scenario, tmp_path).start()


def test_api_key_env_must_be_set_and_never_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = fake_scenario(tmp_path).model_copy(update={"api_key_env": "CIBENCH_TEST_KEY"})
    monkeypatch.delenv("CIBENCH_TEST_KEY", raising=False)
    with pytest.raises(LaunchError, match=r"\$CIBENCH_TEST_KEY, which is not set"):
        LocalLauncher(scenario, tmp_path).start()
    monkeypatch.setenv("CIBENCH_TEST_KEY", "sk-secret-123")
    with open_endpoint(scenario, tmp_path) as endpoint:
        assert endpoint.headers() == {"Authorization": "Bearer sk-secret-123"}
        assert "sk-secret-123" not in repr(endpoint)


def test_external_scenario_health_checks_without_starting(tmp_path: Path) -> None:
    with LocalLauncher(fake_scenario(tmp_path), tmp_path) as running:
        external = Scenario(
            id="ext", mode="external", model="m", base_url=f"{running.base_url}/v1/"
        )
        endpoint = ExternalLauncher(external).start()
        assert endpoint.base_url == running.base_url


def test_unreachable_external_server_names_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    scenario = Scenario(
        id="ext", mode="external", model="m", base_url=url, startup_timeout_seconds=0.5
    )
    with pytest.raises(LaunchError) as caught:
        ExternalLauncher(scenario).start()
    assert f"GET {url}/health: connection refused" in str(caught.value)


def test_sys_executable_is_the_python_placeholder() -> None:
    scenario = Scenario(id="s", mode="local", model="m", command="{python} -V")
    assert render_command(scenario, "h", 1) == [sys.executable, "-V"]
