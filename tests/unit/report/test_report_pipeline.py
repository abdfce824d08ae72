"""The post-session pipeline on hand-made runs: PR gating, daily pushing, failures reported."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from cibench.config.settings import Settings
from cibench.launch.process import free_port
from cibench.report.pipeline import (
    EXIT_GATE_FAILED,
    EXIT_PUSH_FAILED,
    PostSessionOptions,
    push_instance,
    run_post_session,
)
from tests.support.artifacts import (
    write_complete_run,
    write_functional,
    write_run_json,
    write_session,
)

SETTINGS = Settings()
NO_ENV: dict[str, str] = {}


def options(
    run_type: str = "pr",
    *,
    pushgateway_url: str | None = None,
    baseline: str | None = None,
    gates_enabled: bool = True,
) -> PostSessionOptions:
    return PostSessionOptions(
        run_type=run_type,
        pushgateway_url=pushgateway_url,
        baseline=baseline,
        gates_enabled=gates_enabled,
        instance="ci-host",
    )


def gates(run_dir: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((run_dir / "gates.json").read_text())
    return data


def failed_gates(run_dir: Path) -> set[str]:
    verdicts = gates(run_dir)["verdicts"]
    assert isinstance(verdicts, list)
    return {v["gate"] for v in verdicts if v["verdict"] == "fail"}


def test_pr_run_equal_to_the_daily_baseline_passes(
    tmp_path: Path, check_metrics: Callable[[Path], str]
) -> None:
    daily = write_complete_run(tmp_path / "daily", run_type="daily")
    pr = write_complete_run(tmp_path / "pr", run_type="pr")

    result = run_post_session(pr, SETTINGS, options(baseline=str(daily)), environ=NO_ENV)

    assert not result.failed
    assert result.exit_code == 0
    assert f"baseline: artifacts {daily}" in result.summary_lines
    assert failed_gates(pr) == set()
    assert "push: skipped (pr runs never push)" in result.summary_lines
    check_metrics(pr / "metrics.prom")


def test_pr_run_slower_than_the_baseline_fails_naming_ttft_and_e2e(
    tmp_path: Path, check_metrics: Callable[[Path], str]
) -> None:
    daily = write_complete_run(tmp_path / "daily", run_type="daily")
    pr = write_complete_run(tmp_path / "pr", ttft_p99=0.26, e2e_p99=0.65, qps=4.0)

    result = run_post_session(pr, SETTINGS, options(baseline=str(daily)), environ=NO_ENV)

    assert result.failed
    assert result.exit_code == EXIT_GATE_FAILED
    assert failed_gates(pr) == {"ttft_p99", "e2e_p99"}
    assert gates(pr)["exit_code"] == EXIT_GATE_FAILED
    assert result.summary_lines[-1] == (
        "gates: FAILED local-sim:e2e_p99, local-sim:ttft_p99 (the run fails)"
    )
    assert any("+30.0%" in line and "FAIL" in line for line in result.summary_lines)
    check_metrics(pr / "metrics.prom")
    assert 'gate="ttft_p99"' in (pr / "metrics.prom").read_text()


def test_daily_regressions_only_warn_and_the_push_reads_back(
    tmp_path: Path, pushgateway: str, check_metrics: Callable[[Path], str]
) -> None:
    previous = write_complete_run(tmp_path / "daily-1", run_type="daily")
    today = write_complete_run(tmp_path / "daily-2", run_type="daily", ttft_p99=0.4, qps=3.25)

    result = run_post_session(
        today,
        SETTINGS,
        options("daily", pushgateway_url=pushgateway, baseline=str(previous)),
        environ=NO_ENV,
    )

    assert not result.failed
    assert failed_gates(today) == {"ttft_p99", "qps"}
    assert result.summary_lines[-1].endswith("(warning only)")
    assert f"push: {pushgateway} job=vllm_cibench instance=ci-host scenario=local-sim: ok" in (
        result.summary_lines
    )
    [group] = httpx.get(f"{pushgateway}/api/v1/metrics").json()["data"]
    assert group["labels"] == {
        "instance": "ci-host",
        "job": "vllm_cibench",
        "scenario": "local-sim",
    }
    assert float(group["vllm_cibench_requests_per_second"]["metrics"][0]["value"]) == 3.25
    ttft = group["vllm_cibench_ttft_seconds"]["metrics"][0]
    assert float(ttft["quantiles"]["0.99"]) == 0.4
    check_metrics(today / "metrics.prom")


def test_daily_push_to_a_dead_gateway_fails_the_push_step_and_keeps_artifacts(
    tmp_path: Path, check_metrics: Callable[[Path], str]
) -> None:
    run_dir = write_complete_run(tmp_path / "daily", run_type="daily")
    dead = f"http://127.0.0.1:{free_port()}"

    result = run_post_session(
        run_dir, SETTINGS, options("daily", pushgateway_url=dead, baseline=None), environ=NO_ENV
    )

    assert result.failed
    assert result.exit_code == EXIT_PUSH_FAILED
    [line] = [line for line in result.summary_lines if line.startswith("push:")]
    assert line.startswith(f"push: FAILED: Pushgateway {dead}: PUT job=vllm_cibench ")
    assert "Connection refused" in line
    assert gates(run_dir)["push_error"] == line
    check_metrics(run_dir / "metrics.prom")
    assert (run_dir / "local-sim" / "perf").is_dir()


def test_daily_run_without_a_gateway_configured_skips_the_push_and_passes(tmp_path: Path) -> None:
    run_dir = write_complete_run(tmp_path / "daily", run_type="daily")

    result = run_post_session(run_dir, SETTINGS, options("daily"), environ=NO_ENV)

    assert result.exit_code == 0
    [line] = [line for line in result.summary_lines if line.startswith("push:")]
    assert line.startswith("push: skipped: no Pushgateway configured")
    assert gates(run_dir)["push_error"] is None


def test_pr_runs_never_push(tmp_path: Path, pushgateway: str) -> None:
    run_dir = write_complete_run(tmp_path / "pr")

    result = run_post_session(
        run_dir, SETTINGS, options(pushgateway_url=pushgateway), environ=NO_ENV
    )

    assert not result.failed
    assert httpx.get(f"{pushgateway}/api/v1/metrics").json()["data"] == []


def test_no_gates_still_writes_metrics_and_an_empty_gates_file(tmp_path: Path) -> None:
    run_dir = write_complete_run(tmp_path / "pr", ttft_p99=9.0)

    result = run_post_session(
        run_dir,
        SETTINGS,
        options(baseline=str(tmp_path / "pr"), gates_enabled=False),
        environ=NO_ENV,
    )

    assert not result.failed
    assert "gates: disabled (--no-gates)" in result.summary_lines
    assert gates(run_dir)["verdicts"] == []
    assert (run_dir / "metrics.prom").exists()


def test_a_baseline_path_that_does_not_exist_fails_the_run(tmp_path: Path) -> None:
    run_dir = write_complete_run(tmp_path / "pr")

    result = run_post_session(
        run_dir, SETTINGS, options(baseline=str(tmp_path / "missing")), environ=NO_ENV
    )

    # a typo in --baseline is an error, not a silent "no baseline" (issue #20)
    assert result.failed
    assert result.summary_lines[1].startswith("baseline: FAILED: baseline ")
    assert "no such directory" in result.summary_lines[1]
    verdicts = gates(run_dir)["verdicts"]
    assert isinstance(verdicts, list)
    assert {v["verdict"] for v in verdicts if v["gate"] == "ttft_p99"} == {"no baseline"}


def test_a_server_that_never_started_is_named_and_fails_a_pr(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "pr", {"local-sim": ["functional", "perf"]})
    write_run_json(run_dir, "local-sim", launch_error="LaunchError: port 8000 in use")

    result = run_post_session(run_dir, SETTINGS, options(), environ=NO_ENV)

    assert result.exit_code == EXIT_GATE_FAILED
    assert (
        "scenario local-sim: server failed to start: LaunchError: port 8000 in use"
        in result.summary_lines
    )
    assert "scenario local-sim: no results from functional, perf (expected: functional, perf)" in (
        result.summary_lines
    )


def test_an_unreadable_run_directory_is_reported_not_raised(tmp_path: Path) -> None:
    result = run_post_session(tmp_path, SETTINGS, options(), environ=NO_ENV)

    assert result.failed
    assert "session.json: not found" in result.summary_lines[-1]


def test_the_push_instance_is_given_else_from_the_env_else_the_hostname() -> None:
    assert push_instance("runner-1", {"CIBENCH_INSTANCE": "env"}) == "runner-1"
    assert push_instance(None, {"CIBENCH_INSTANCE": "gpu-box"}) == "gpu-box"
    assert push_instance(None, {}) == socket.gethostname()


def test_skipped_functional_cases_are_in_the_table_and_in_gates_json(tmp_path: Path) -> None:
    daily = write_complete_run(tmp_path / "daily", run_type="daily")
    pr = write_complete_run(tmp_path / "pr", run_type="pr")
    (pr / "local-sim" / "functional.csv").unlink()
    reason = "capability 'n' unsupported (probe: 400)"
    rows = [("chat_core", "basic", "pass"), ("chat_core", "stop", "skip", reason)]
    write_functional(pr, "local-sim", rows)

    result = run_post_session(pr, SETTINGS, options(baseline=str(daily)), environ=NO_ENV)

    assert gates(pr)["functional_skipped"] == {"local-sim": {"capability 'n' unsupported": 1}}
    newly = "1 newly skipped (passed in the baseline): chat_core::stop"
    assert any(
        line.endswith(f"skipped ({newly}; 1× capability 'n' unsupported)")
        for line in result.summary_lines
    ), result.summary_lines
    assert "functional_skips" not in failed_gates(pr)


def test_require_baseline_fails_a_run_whose_baseline_is_missing_or_lacks_a_point(
    tmp_path: Path,
) -> None:
    pr = write_complete_run(tmp_path / "pr", run_type="pr")
    other = write_complete_run(tmp_path / "other", "other-scenario", run_type="daily")
    dead = f"http://127.0.0.1:{free_port()}"
    required = replace(options(), require_baseline=True)

    for source, reason in (
        (None, "none configured"),
        (dead, "could not be read"),
        (str(other), "no baseline for local-sim fixed/threading-pool c2 in32 out8"),
    ):
        result = run_post_session(pr, SETTINGS, replace(required, baseline=source), environ=NO_ENV)
        assert result.exit_code == EXIT_GATE_FAILED, source
        assert any(
            line.startswith("baseline: FAILED: --require-baseline") and reason in line
            for line in result.summary_lines
        ), result.summary_lines
        assert reason in str(gates(pr)["baseline_error"])

    daily = write_complete_run(tmp_path / "daily", run_type="daily")
    found = run_post_session(pr, SETTINGS, replace(required, baseline=str(daily)), environ=NO_ENV)
    assert found.exit_code == 0
    assert gates(pr)["baseline_error"] is None
    # without --require-baseline the same missing baseline only says `no baseline`
    assert run_post_session(pr, SETTINGS, options(), environ=NO_ENV).exit_code == 0
