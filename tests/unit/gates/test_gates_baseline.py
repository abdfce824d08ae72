"""Loading baselines: a previous run's artifacts, an artifacts root, or a real Pushgateway."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from cibench.artifacts import LoadPointKey, read_run
from cibench.errors import BaselineMissing
from cibench.gates.baseline import from_artifacts, load_baseline, parse_pushgateway
from cibench.gates.rules import BaselinePoint
from cibench.launch.process import free_port
from cibench.metrics.build import build_registry
from cibench.metrics.push import push_registry
from tests.support.artifacts import perf_row, write_complete_run, write_perf, write_session

KEY = LoadPointKey("fixed", "threading-pool", "2", "32", "8")


def set_end(run_dir: Path, end: str) -> None:
    path = run_dir / "session.json"
    data = json.loads(path.read_text())
    data["end"] = end
    path.write_text(json.dumps(data))


def test_a_run_directory_is_used_as_is(tmp_path: Path) -> None:
    run_dir = write_complete_run(tmp_path / "daily-1", run_type="daily", ttft_p99=0.3)

    baseline = from_artifacts(run_dir, scenarios=["local-sim"])

    assert baseline.lookup("local-sim", KEY) == BaselinePoint(0.3, 0.5, 4.0)
    assert baseline.source == f"artifacts {run_dir}"


def test_an_artifacts_root_gives_the_newest_daily_run_per_scenario(tmp_path: Path) -> None:
    old = write_complete_run(tmp_path / "a-old", run_type="daily", qps=1.0)
    set_end(old, "2026-01-01T00:00:00+00:00")
    new = write_complete_run(tmp_path / "b-new", run_type="daily", qps=2.0)
    set_end(new, "2026-01-03T00:00:00+00:00")
    pr = write_complete_run(tmp_path / "c-pr", run_type="pr", qps=3.0)
    set_end(pr, "2026-01-04T00:00:00+00:00")
    current = write_complete_run(tmp_path / "d-current", run_type="daily", qps=4.0)
    set_end(current, "2026-01-05T00:00:00+00:00")
    only_old = write_session(
        tmp_path / "a-old",
        {"local-sim": ["perf"], "other": ["perf"]},
        run_type="daily",
        end="2026-01-01T00:00:00+00:00",
    )
    write_perf(only_old, "other", [perf_row(qps=7.0)])

    baseline = from_artifacts(tmp_path, scenarios=["local-sim", "other"], exclude=current)

    found = baseline.lookup("local-sim", KEY)
    assert found is not None
    assert found.qps == 2.0  # newest daily, not the PR run nor the current run
    other = baseline.lookup("other", KEY)
    assert other is not None
    assert other.qps == 7.0
    assert "b-new for local-sim" in baseline.source
    assert "a-old for other" in baseline.source


def test_an_artifacts_root_without_daily_runs_has_no_points(tmp_path: Path) -> None:
    write_complete_run(tmp_path / "pr-1", run_type="pr")

    baseline = from_artifacts(tmp_path, scenarios=["local-sim"])

    assert baseline.points == {}
    assert "no daily run found" in baseline.source


def test_a_missing_directory_raises_baseline_missing(tmp_path: Path) -> None:
    with pytest.raises(BaselineMissing, match=r"no such directory\. Pass a previous daily run"):
        load_baseline(str(tmp_path / "nope"), scenarios=["s"], prefix="", job="j")


def test_pushgateway_keyword_needs_a_configured_url() -> None:
    with pytest.raises(BaselineMissing, match=r"no Pushgateway URL is configured"):
        load_baseline("pushgateway", scenarios=["s"], prefix="", job="j")


def test_an_unreachable_gateway_raises_baseline_missing() -> None:
    with pytest.raises(BaselineMissing, match=r"cannot read /api/v1/metrics"):
        load_baseline(
            f"http://127.0.0.1:{free_port()}", scenarios=["s"], prefix="", job="j", timeout_s=2.0
        )


def test_the_daily_group_is_read_back_from_a_real_pushgateway(
    tmp_path: Path, pushgateway: str
) -> None:
    daily = read_run(write_complete_run(tmp_path / "d", run_type="daily", ttft_p99=0.31))
    pr = read_run(write_complete_run(tmp_path / "p", run_type="pr", ttft_p99=9.0))
    host = socket.gethostname()
    for run, scenario in ((daily, "local-sim"), (pr, "pr-only")):
        registry = build_registry(run, [], prefix="vllm_cibench_", now_s=0.0)
        push_registry(
            pushgateway, "vllm_cibench", {"instance": host, "scenario": scenario}, registry
        )

    baseline = load_baseline(
        "pushgateway",
        scenarios=["local-sim", "pr-only", "absent"],
        prefix="vllm_cibench_",
        job="vllm_cibench",
        pushgateway_url=pushgateway,
    )

    # Only daily metrics count: the PR-labelled group gives nothing.
    assert list(baseline.points) == [("local-sim", KEY)]
    point = baseline.points[("local-sim", KEY)]
    assert point.ttft_p99_s == pytest.approx(0.31)
    assert point.e2e_p99_s == pytest.approx(0.5)
    assert point.qps == pytest.approx(4.0)
    assert baseline.source.startswith(f"pushgateway {pushgateway} (local-sim@{host} pushed ")


def test_the_newest_push_wins_when_several_instances_hold_a_scenario() -> None:
    def group(instance: str, pushed: float, qps: str) -> dict[str, object]:
        labels = {
            "run_type": "daily",
            "control_method": "fixed",
            "backend": "threading-pool",
            "concurrency": "2",
            "input_len": "32",
            "output_len": "8",
        }
        return {
            "labels": {"job": "vllm_cibench", "instance": instance, "scenario": "s"},
            "push_time_seconds": {"metrics": [{"value": str(pushed)}]},
            "requests_per_second": {"type": "GAUGE", "metrics": [{"labels": labels, "value": qps}]},
        }

    payload = {
        "status": "success",
        "data": [group("old-runner", 100.0, "1"), group("new-runner", 200.0, "2")],
    }

    baseline = parse_pushgateway(
        payload, url="http://gw", scenarios=["s"], prefix="", job="vllm_cibench"
    )

    assert baseline.points[("s", KEY)].qps == 2.0
    assert "s@new-runner" in baseline.source


def test_a_non_pushgateway_answer_is_named() -> None:
    with pytest.raises(BaselineMissing, match=r"is this a Pushgateway"):
        parse_pushgateway(["x"], url="http://gw", scenarios=["s"], prefix="", job="j")


def test_credentials_in_the_url_never_reach_the_description(pushgateway: str) -> None:
    host = pushgateway.removeprefix("http://")

    baseline = load_baseline(f"http://u:secret@{host}", scenarios=["s"], prefix="", job="j")

    assert "secret" not in baseline.source
    assert baseline.points == {}
