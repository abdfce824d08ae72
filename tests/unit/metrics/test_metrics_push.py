"""Pushing to a real Pushgateway on loopback: groups, read-back, retry, failures, credentials."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from cibench.artifacts import read_run
from cibench.errors import PushError
from cibench.launch.process import free_port
from cibench.metrics.build import build_registry
from cibench.metrics.push import (
    BasicAuth,
    auth_from_env,
    push_registry,
    redact_url,
    split_credentials,
)
from tests.support.artifacts import perf_row, write_perf, write_session

NOW = 1_800_000_000.0


def gateway_groups(url: str) -> list[dict[str, object]]:
    response = httpx.get(f"{url}/api/v1/metrics", timeout=5)
    response.raise_for_status()
    groups: list[dict[str, object]] = response.json()["data"]
    return groups


def two_scenario_run(tmp_path: Path) -> Path:
    run_dir = write_session(
        tmp_path / "r", {"a": ["perf"], "b/with-slash": ["perf"]}, run_type="daily"
    )
    write_perf(run_dir, "a", [perf_row(qps=1.5)])
    write_perf(run_dir, "b/with-slash", [perf_row(qps=2.5)])
    return run_dir


def test_each_scenario_is_its_own_group_and_reads_back(tmp_path: Path, pushgateway: str) -> None:
    run = read_run(two_scenario_run(tmp_path))
    for scenario in ("a", "b/with-slash"):
        registry = build_registry(run, [], prefix="t_", now_s=NOW, scenarios={scenario})
        push_registry(
            pushgateway, "vllm_cibench", {"instance": "ci-1", "scenario": scenario}, registry
        )

    groups = gateway_groups(pushgateway)

    qps = {}
    for group in groups:
        labels = group["labels"]
        assert isinstance(labels, dict)
        assert labels["job"] == "vllm_cibench"
        assert labels["instance"] == "ci-1"
        family = group["t_requests_per_second"]
        assert isinstance(family, dict)
        qps[labels["scenario"]] = float(family["metrics"][0]["value"])
    assert qps == {"a": 1.5, "b/with-slash": 2.5}


def test_a_second_push_replaces_only_its_own_group(tmp_path: Path, pushgateway: str) -> None:
    run = read_run(two_scenario_run(tmp_path))
    for scenario in ("a", "b/with-slash"):
        registry = build_registry(run, [], prefix="t_", now_s=NOW, scenarios={scenario})
        push_registry(
            pushgateway, "vllm_cibench", {"instance": "h", "scenario": scenario}, registry
        )
    rerun_dir = write_session(tmp_path / "r2", {"a": ["perf"]}, run_type="daily")
    write_perf(rerun_dir, "a", [perf_row(qps=9.0)])
    registry = build_registry(read_run(rerun_dir), [], prefix="t_", now_s=NOW)

    push_registry(pushgateway, "vllm_cibench", {"instance": "h", "scenario": "a"}, registry)

    qps = {
        group["labels"]["scenario"]: float(group["t_requests_per_second"]["metrics"][0]["value"])
        for group in gateway_groups(pushgateway)
    }
    assert qps == {"a": 9.0, "b/with-slash": 2.5}


def test_unreachable_gateway_raises_push_error_after_one_retry(tmp_path: Path) -> None:
    run = read_run(two_scenario_run(tmp_path))
    registry = build_registry(run, [], prefix="", now_s=NOW)
    url = f"http://127.0.0.1:{free_port()}"

    started = time.monotonic()
    with pytest.raises(PushError, match=r"failed after 2 attempt\(s\).*cibench push") as caught:
        push_registry(
            url,
            "vllm_cibench",
            {"instance": "h", "scenario": "a"},
            registry,
            timeout_s=2.0,
            retry_delay_s=0.2,
        )

    assert time.monotonic() - started >= 0.2
    assert url in str(caught.value)


def test_a_refused_push_is_not_retried_and_says_why(tmp_path: Path, pushgateway: str) -> None:
    # Another group already holds the name as a gauge; the gateway answers our summary with 400.
    text = "# TYPE clash_ttft_seconds gauge\nclash_ttft_seconds 1\n"
    other = httpx.put(
        f"{pushgateway}/metrics/job/vllm_cibench/instance/h/scenario/z",
        content=text.encode(),
        timeout=5,
    )
    assert other.status_code == 200
    run = read_run(two_scenario_run(tmp_path))
    registry = build_registry(run, [], prefix="clash_", now_s=NOW, scenarios={"a"})

    started = time.monotonic()
    with pytest.raises(PushError, match=r"after 1 attempt\(s\): HTTP 400"):
        push_registry(
            pushgateway,
            "vllm_cibench",
            {"instance": "h", "scenario": "a"},
            registry,
            retry_delay_s=5.0,
        )

    assert time.monotonic() - started < 5.0


def test_credentials_come_from_the_named_env_vars() -> None:
    env = {"PGW_USER": "ci", "PGW_PASS": "s3cret-value"}

    auth = auth_from_env(env, "PGW_USER", "PGW_PASS")

    assert auth == BasicAuth("ci", "s3cret-value")
    assert "s3cret-value" not in repr(auth)
    assert auth_from_env({}, "PGW_USER", "PGW_PASS") is None


def test_half_configured_credentials_name_the_variable_not_the_value() -> None:
    with pytest.raises(PushError, match=r"PGW_PASS is set but PGW_USER is not") as caught:
        auth_from_env({"PGW_PASS": "s3cret-value"}, "PGW_USER", "PGW_PASS")

    assert "s3cret-value" not in str(caught.value)


def test_basic_auth_reaches_the_gateway_and_never_the_message(
    tmp_path: Path, pushgateway: str
) -> None:
    run = read_run(two_scenario_run(tmp_path))
    registry = build_registry(run, [], prefix="auth_", now_s=NOW, scenarios={"a"})
    host = pushgateway.removeprefix("http://")

    # This gateway has no auth configured, so it accepts the header and the push succeeds;
    # credentials written into the URL are taken out of it and sent as the header too.
    push_registry(
        f"http://ci:s3cret-value@{host}",
        "vllm_cibench",
        {"instance": "h", "scenario": "a"},
        registry,
    )
    with pytest.raises(PushError) as caught:
        push_registry(
            f"http://ci:s3cret-value@127.0.0.1:{free_port()}",
            "vllm_cibench",
            {"instance": "h", "scenario": "a"},
            registry,
            auth=BasicAuth("ci", "s3cret-value"),
            retries=0,
            timeout_s=1.0,
        )

    assert "s3cret-value" not in str(caught.value)
    assert "Connection refused" in str(caught.value)
    assert [group["labels"] for group in gateway_groups(pushgateway)] == [
        {"instance": "h", "job": "vllm_cibench", "scenario": "a"}
    ]


def test_split_credentials_keeps_them_out_of_the_url() -> None:
    url, auth = split_credentials("http://ci:p%40ss@gw:9091")

    assert url == "http://gw:9091"
    assert auth == BasicAuth("ci", "p@ss")
    assert split_credentials("http://gw:9091") == ("http://gw:9091", None)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@gw.example:9091/x", "http://gw.example:9091/x"),
        ("gw.example:9091", "http://gw.example:9091"),
        ("https://gw.example", "https://gw.example"),
    ],
)
def test_redact_url_drops_userinfo(url: str, shown: str) -> None:
    assert redact_url(url) == shown
