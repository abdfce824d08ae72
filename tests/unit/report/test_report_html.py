"""`report.html` of real sessions against `local-sim`, opened in headless Chromium.

One short PR session runs all three stages (functional: the quick `models_health` suite; perf:
two load points; accuracy: the synthetic PR sample) against a hand-made baseline run on the
same load points, so its report draws the baseline's curves beside its own.
"""

from __future__ import annotations

import html as html_module
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from cibench.accuracy.interval import wilson_interval
from cibench.artifacts import PerfRequestRow, RunWriter
from cibench.cli import main
from cibench.report.browser import find_browser, visit
from cibench.report.perf_section import curve_groups, failure_breakdown
from cibench.report.run_report import render_run_report
from cibench.report.runview import load_run
from cibench.report.summary import REGRESSION_GATE_NAMES, format_interval, format_margin
from tests.support.artifacts import perf_row, write_perf, write_run_json, write_session
from tests.support.configs import run_session as sessions_run

REPO = Path(__file__).resolve().parents[3]
FAST_SIM = {"seed": 0, "prefill_base_ms": 20, "itl_base_ms": 4, "reasoning": True}
PROFILE = {
    "control_method": "fixed",
    "backend": "threading-pool",
    "concurrency": [1, 2],
    "input_length": [32],
    "output_length": [8],
    "num_requests_per_concurrency": 3,
    "warmup": 0,
    "seed": 0,
    "timeout_seconds": 60,
    "max_send_lag_ms": 2000,
}


def make_configs(root: Path) -> Path:
    configs = root / "configs"
    shutil.copytree(REPO / "configs", configs)
    path = configs / "scenarios" / "local-sim.yaml"
    scenario = yaml.safe_load(path.read_text())
    scenario["args"] = FAST_SIM
    path.write_text(yaml.safe_dump(scenario))
    (configs / "tests" / "perf" / "profiles" / "it.yaml").write_text(yaml.safe_dump(PROFILE))
    entry: dict[str, Any] = {
        "functional": True,
        "functional_subset": ["models_health"],
        "perf": True,
        "perf_profile": "it",
        "accuracy": True,
        "accuracy_profile": "pr",
    }
    (configs / "matrix.yaml").write_text(
        yaml.safe_dump({"scenarios": {"local-sim": {"pr": entry}}})
    )
    return configs


def run_session(root: Path, configs: Path, run_id: str, *args: str) -> tuple[str, Path]:
    tests = ("tests/functional", "tests/perf", "tests/accuracy")
    output = sessions_run(configs, root / "artifacts", run_id, *tests, *args)
    return output, root / "artifacts" / run_id


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    root = tmp_path_factory.mktemp("runs")
    configs = make_configs(root)
    # a hand-made baseline run (the perf stage's own writer) on the same two load points
    base_dir = write_session(root / "artifacts" / "base", {"local-sim": ["perf"]})
    write_run_json(base_dir, "local-sim")
    write_perf(base_dir, "local-sim", [perf_row(concurrency=c) for c in (1, 2)])
    current = run_session(root, configs, "current", f"--baseline={base_dir}")
    return {"base": ("", base_dir), "current": current}


def expected_plots(run_dir: Path) -> set[str]:
    """The charts a report of this run must hold: per curve 3 latency and 2 CDF, plus 4."""
    view = load_run(run_dir).scenarios[0]
    ids = {f"local-sim-{name}" for name in ("throughput-tokens", "throughput-requests")}
    ids |= {"local-sim-failures", "local-sim-harness"}
    for group in curve_groups(view.perf):
        ids |= {f"local-sim-latency-{f}-{group.slug}" for f in ("ttft", "tpot", "e2e")}
        ids |= {f"local-sim-cdf-{f}-{group.slug}" for f in ("ttft", "tpot")}
    return ids


def test_post_session_writes_the_report_and_prints_its_path(
    sessions: dict[str, tuple[str, Path]],
) -> None:
    output, run_dir = sessions["current"]
    assert (run_dir / "report.html").is_file(), output
    assert f"report: {run_dir / 'report.html'}" in output


def test_report_opens_in_chromium_without_console_errors_and_draws_every_plot(
    sessions: dict[str, tuple[str, Path]], tmp_path: Path
) -> None:
    if find_browser() is None:
        pytest.skip("Debian `chromium` is not installed here (.ci/run installs it for CI)")
    _, run_dir = sessions["current"]
    shot = tmp_path / "report.png"
    seen = visit(run_dir / "report.html", screenshot=shot)
    assert seen.console_errors == []
    drawn = {plot.plot_id: plot for plot in seen.plots}
    assert set(drawn) == expected_plots(run_dir)
    for plot in drawn.values():
        assert plot.width > 200, plot
        assert plot.height > 150, plot
        assert plot.marks > 10, plot  # axes, ticks and at least one line or bar
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_report_header_names_the_run_commit_model_hardware_and_verdict(
    sessions: dict[str, tuple[str, Path]],
) -> None:
    _, run_dir = sessions["current"]
    html = (run_dir / "report.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    assert "cibench run current" in text
    for label, value in (("model", "sim-qwen-mini"), ("hardware", "cpu-sim"), ("baseline", "base")):
        assert re.search(rf"{label}\s+{re.escape(value)}", text), label
    assert re.search(r"cibench run current\s+(PASS|FAIL)", text)


def test_gate_table_shows_each_regression_delta_with_its_interval_and_margin(
    sessions: dict[str, tuple[str, Path]],
) -> None:
    _, run_dir = sessions["current"]
    text = html_module.unescape(re.sub(r"<[^>]+>", " ", (run_dir / "report.html").read_text()))
    regression = [v for v in load_run(run_dir).verdicts if v.gate in REGRESSION_GATE_NAMES]
    with_interval = [v for v in regression if v.low is not None]
    assert with_interval  # the candidate's records give every latency and QPS gate one
    assert "delta [interval]" in text
    assert "margin / threshold" in text
    for verdict in with_interval:
        row = rf"{re.escape(format_interval(verdict))}\s+{re.escape(format_margin(verdict))}"
        assert re.search(row, text), (verdict, format_interval(verdict))


def test_baseline_curves_are_drawn_dashed_beside_the_run(
    sessions: dict[str, tuple[str, Path]],
) -> None:
    _, run_dir = sessions["current"]
    html = (run_dir / "report.html").read_text()
    for percentile in ("P50", "P90", "P99"):
        assert f"{percentile} baseline" in html
    assert "stroke-dasharray" in html


def test_pr_flow_report_is_self_contained_and_small(
    sessions: dict[str, tuple[str, Path]],
) -> None:
    _, run_dir = sessions["current"]
    html = (run_dir / "report.html").read_text()
    assert len(html.encode()) < 2_000_000
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_report_command_rerenders_and_names_a_bad_run_dir(
    sessions: dict[str, tuple[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run_dir = sessions["base"]
    out = tmp_path / "again.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "missing: not a directory" in capsys.readouterr().err


def test_accuracy_section_shows_the_interval_and_one_row_per_question(
    sessions: dict[str, tuple[str, Path]],
) -> None:
    _, run_dir = sessions["current"]
    view = load_run(run_dir).scenarios[0]
    (accuracy,) = view.accuracy
    assert len(accuracy.samples) == 10
    html = (run_dir / "report.html").read_text()
    assert "95% interval (Wilson)" in html


def test_wilson_interval_matches_the_textbook_value_for_3_of_10() -> None:
    low, high = wilson_interval(0.3, 10) or (0.0, 0.0)
    assert (round(low, 3), round(high, 3)) == (0.108, 0.603)
    assert wilson_interval(0.0, 0) is None
    low, high = wilson_interval(1.0, 5) or (0.0, 0.0)
    assert high == 1.0
    assert round(low, 3) == 0.566


def test_failures_are_broken_down_by_reason_per_load_point(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "run", {"s": ["perf"]})
    write_run_json(run_dir, "s")
    requests = [
        PerfRequestRow(request_index=0, success=True, ttft_s=0.1),
        PerfRequestRow(request_index=1, success=False, error_type="http_500", error_message="boom"),
        PerfRequestRow(request_index=2, success=False, error_type="timeout", error_message="slow"),
    ]
    summary = perf_row(concurrency=2, requests=3, fail_rate=2 / 3)
    RunWriter(run_dir).scenario("s").record_load_point(summary, requests)
    view = load_run(run_dir).scenarios[0]
    table = failure_breakdown(view)
    assert sorted(zip(table["error type"], table["failed requests"], strict=True)) == [
        ("http_500", 1),
        ("timeout", 1),
    ]
    html = render_run_report(load_run(run_dir)).html
    assert "failed: http_500" in html
    assert "boom" in html


def test_a_rate_sweep_with_a_goodput_slo_draws_goodput_beside_requests(tmp_path: Path) -> None:
    run_dir = write_session(tmp_path / "run", {"s": ["perf"]})
    write_run_json(run_dir, "s")
    # past 10 req/s the server keeps up with requests but fewer of them meet the SLO
    sweep = [(5, 5.0, 5.0), (10, 9.9, 9.5), (20, 19.6, 6.1)]
    rows = [
        perf_row(control_method="poisson", request_rate=str(rate), qps=qps, goodput=good,
                 goodput_slo="ttft<=0.5s")
        for rate, qps, good in sweep
    ]  # fmt: skip
    write_perf(run_dir, "s", rows)
    view = load_run(run_dir).scenarios[0]
    [group] = curve_groups(view.perf)
    assert group.x_column == "request_rate"
    html = render_run_report(load_run(run_dir)).html
    assert f'data-plot="s-goodput-{group.slug}"' in html
    assert "Goodput vs load · poisson/threading-pool in32 out8" in html
    # without an SLO (goodput -1 in the CSV) there is no goodput chart
    plain_dir = write_session(tmp_path / "plain", {"s": ["perf"]})
    write_run_json(plain_dir, "s")
    write_perf(plain_dir, "s", [perf_row(concurrency=c) for c in (1, 2)])
    assert "-goodput-" not in render_run_report(load_run(plain_dir)).html
