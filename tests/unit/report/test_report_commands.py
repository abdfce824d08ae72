"""`cibench push` and `cibench gate` redo the post-session steps from saved artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cibench.cli import main
from cibench.config.settings import Settings
from cibench.launch.process import free_port
from cibench.report.pipeline import (
    EXIT_GATE_FAILED,
    EXIT_PUSH_FAILED,
    PostSessionOptions,
    run_post_session,
)
from tests.support.artifacts import write_complete_run


def configs_without_settings(tmp_path: Path) -> str:
    (tmp_path / "configs").mkdir(exist_ok=True)
    return str(tmp_path / "configs")


def test_push_sends_a_saved_daily_run_with_its_gate_results(
    tmp_path: Path, pushgateway: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_complete_run(tmp_path / "artifacts" / "d1", run_type="daily", qps=6.0)
    options = PostSessionOptions("daily", pushgateway_url=None, baseline=None, gates_enabled=True)
    run_post_session(run_dir, Settings(), options, environ={})  # push fails: no gateway

    code = main(
        [
            "push",
            "d1",
            "--artifacts",
            str(tmp_path / "artifacts"),
            "--configs",
            configs_without_settings(tmp_path),
            "--pushgateway",
            pushgateway,
            "--instance",
            "runner-7",
        ]
    )

    assert code == 0
    assert "scenario=local-sim: ok" in capsys.readouterr().out
    [group] = httpx.get(f"{pushgateway}/api/v1/metrics").json()["data"]
    assert group["labels"]["instance"] == "runner-7"
    assert float(group["vllm_cibench_requests_per_second"]["metrics"][0]["value"]) == 6.0
    gates = {m["labels"]["gate"] for m in group["vllm_cibench_gate_pass"]["metrics"]}
    assert "completeness" in gates


def test_push_refuses_a_pr_run_unless_forced(
    tmp_path: Path, pushgateway: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_complete_run(tmp_path / "pr1")
    args = [
        "push",
        str(run_dir),
        "--configs",
        configs_without_settings(tmp_path),
        "--pushgateway",
        pushgateway,
    ]

    assert main(args) == 2
    assert "only daily runs are pushed" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_push_to_a_dead_gateway_exits_with_the_push_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_complete_run(tmp_path / "d1", run_type="daily")

    code = main(
        [
            "push",
            str(run_dir),
            "--configs",
            configs_without_settings(tmp_path),
            "--pushgateway",
            f"http://127.0.0.1:{free_port()}",
        ]
    )

    assert code == EXIT_PUSH_FAILED
    assert "push: FAILED" in capsys.readouterr().err


def test_gate_against_a_previous_run_fails_on_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    daily = write_complete_run(tmp_path / "daily", run_type="daily")
    slow = write_complete_run(tmp_path / "slow", ttft_p99=0.3)
    same = write_complete_run(tmp_path / "same")
    configs = configs_without_settings(tmp_path)

    assert main(["gate", str(same), "--baseline", str(daily), "--configs", configs]) == 0
    code = main(["gate", str(slow), "--baseline", str(daily), "--configs", configs])

    assert code == EXIT_GATE_FAILED
    out = capsys.readouterr().out
    assert "gates: FAILED local-sim:ttft_p99" in out
    gates = json.loads((slow / "gates.json").read_text())
    assert gates["baseline"] == str(daily)
    assert [v["verdict"] for v in gates["verdicts"] if v["gate"] == "ttft_p99"] == ["fail"]


def test_gate_on_a_directory_that_is_not_a_run_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["gate", str(tmp_path), "--configs", configs_without_settings(tmp_path)])

    assert code == 2
    assert "session.json: not found" in capsys.readouterr().err
