"""The capacity gate: an SLO search's answer against the baseline's, through files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cibench.artifacts import CapacityRow, read_run
from cibench.capacity.files import append_capacity
from cibench.config.settings import GateThresholds
from cibench.gates.baseline import from_artifacts, parse_pushgateway
from cibench.gates.rules import evaluate
from cibench.metrics.build import build_registry
from tests.support.artifacts import perf_row, write_complete_run, write_perf

SLO = "tpot_p99_s=0.07"


def run_with_search(
    run_dir: Path, capacity: float | None, converged: bool = True, over: str = "concurrency"
) -> Path:
    """A complete run whose perf stage also ran one SLO search (and one failing probe)."""
    write_complete_run(run_dir, run_type="daily")
    append_capacity(
        run_dir / "local-sim" / "perf" / "capacity_local-sim_2026-01-01_00_00_00.csv",
        CapacityRow(
            scenario="local-sim",
            backend="asyncio",
            search_over=over,
            input_length=16,
            output_length=8,
            slo=SLO,
            slo_hash="5d1c0b9e",
            capacity=capacity,
            converged=converged,
            stop_reason="converged" if converged else "time budget spent (9 s >= 8 s)",
        ),
    )
    write_perf(run_dir, "local-sim", [perf_row(fail_rate=1.0, control_method="search")])
    return run_dir


def capacity_verdicts(current: Path, baseline_run: Path) -> list[tuple[str, float | None, str]]:
    baseline = from_artifacts(baseline_run, scenarios=["local-sim"])
    verdicts = evaluate(read_run(current), baseline, GateThresholds(capacity_decrease=0.1))
    return [(v.status, v.current, v.detail) for v in verdicts if v.gate == "capacity"]


@pytest.mark.parametrize(
    ("current", "status"), [(16, "pass"), (15, "pass"), (14, "fail"), (None, "fail")]
)
def test_capacity_may_fall_at_most_the_threshold(
    tmp_path: Path, current: float | None, status: str
) -> None:
    base = run_with_search(tmp_path / "base", 16)
    now = run_with_search(tmp_path / "now", current)
    ((found, value, _),) = capacity_verdicts(now, base)
    assert found == status
    assert value == (0.0 if current is None else current)


def test_an_early_stopped_search_says_so_in_the_verdict(tmp_path: Path) -> None:
    base = run_with_search(tmp_path / "base", 16)
    now = run_with_search(tmp_path / "now", 16, converged=False)
    ((status, _, detail),) = capacity_verdicts(now, base)
    assert status == "pass"
    assert detail == "search stopped early: time budget spent (9 s >= 8 s)"


def test_without_a_baseline_search_the_gate_says_no_baseline(tmp_path: Path) -> None:
    base = write_complete_run(tmp_path / "base", run_type="daily")
    now = run_with_search(tmp_path / "now", 16)
    assert capacity_verdicts(now, base) == [("no baseline", 16, "")]


def test_search_probes_are_not_gated_point_by_point(tmp_path: Path) -> None:
    run = run_with_search(tmp_path / "run", 16)
    (probe,) = [p for p in read_run(run).scenarios[0].perf if p.key.control_method == "search"]
    verdicts = evaluate(read_run(run), None, GateThresholds())
    assert probe.fail_rate == 1.0
    assert all(v.subject != probe.key.describe() or v.gate != "failure_ratio" for v in verdicts)


@pytest.mark.parametrize(
    ("over", "name"), [("concurrency", "max_concurrency_under_slo"), ("rate", "max_rate_under_slo")]
)
def test_the_answer_is_a_metric_read_back_as_a_baseline(
    tmp_path: Path, over: str, name: str
) -> None:
    run = read_run(run_with_search(tmp_path / "run", 12.5, over=over))
    text = generate_latest(build_registry(run, [], prefix="p_", now_s=0)).decode()
    (line,) = [line for line in text.splitlines() if line.startswith(f"p_{name}{{")]
    assert f'slo="{SLO}"' in line
    assert 'slo_hash="5d1c0b9e"' in line
    assert line.endswith(" 12.5")
    (sample,) = [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == f"p_{name}"
    ]
    labels = sample.labels
    payload = {
        "data": [
            {
                "labels": {"job": "vllm_cibench", "scenario": "local-sim"},
                f"p_{name}": {"metrics": [{"labels": labels, "value": "12.5"}]},
            }
        ]
    }
    baseline = parse_pushgateway(
        payload, url="http://pg:9091", scenarios=["local-sim"], prefix="p_", job="vllm_cibench"
    )
    ((_, key),) = baseline.capacity
    assert (key.search_over, key.slo_hash, baseline.capacity[("local-sim", key)]) == (
        over,
        "5d1c0b9e",
        12.5,
    )
