"""Every dashboard panel's query, run against a real Prometheus scraping a real Pushgateway.

Two scenarios are pushed as daily runs with `cibench push`: a week-old and a day-old run become
TSDB blocks (`promtool tsdb create-blocks-from openmetrics` of the Pushgateway's own page, stamped
7 d and 1 d ago), then yesterday's and today's runs (today slower) are pushed live and scraped.
Each panel target runs through the HTTP API with the template variables resolved as Grafana does,
and the headline panels must return the values of the runs' CSV files.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cibench.artifacts import PerfSummaryRow, read_summary
from cibench.config.settings import Settings
from cibench.dashboard_queries import (
    PanelTarget,
    PrometheusApi,
    Series,
    expand,
    panel_targets,
    resolve_variables,
)
from cibench.dashboards import render_dashboard
from tests.support.dashboard_picture import (
    chromium_binary,
    page_height,
    panel_answers,
    render_html,
    screenshot,
)
from tests.support.dashboard_stack import (
    CONCURRENCIES,
    SCENARIOS,
    WEEK_S,
    Stack,
    csv_value,
    daily_stack,
    missing_tools,
)
from tests.support.pushgateway import require_tool

PREFIX = Settings().metric_prefix


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    missing = missing_tools()
    if missing:
        message = f"apt-get install {' '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {message} was not done")
        pytest.skip(f"{message}; CI installs them")
    with daily_stack(tmp_path_factory.mktemp("dashboard-prometheus"), PREFIX) as stack:
        yield stack


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_dashboard(PREFIX))
    return data


@pytest.fixture(scope="module")
def answers(pushed: Stack, dashboard: dict[str, Any]) -> dict[tuple[str, str], list[Series]]:
    """(panel title, refId) -> the result of the target as the panel runs it."""
    api = PrometheusApi(pushed.prometheus)
    results = panel_answers(dashboard, api, pushed.now - WEEK_S, pushed.now)
    api.close()
    return results


def test_template_variables_offer_the_pushed_values(
    pushed: Stack, dashboard: dict[str, Any]
) -> None:
    api = PrometheusApi(pushed.prometheus)
    resolved = resolve_variables(dashboard, api, pushed.now - WEEK_S, pushed.now)
    api.close()

    assert resolved["scenario"] == list(SCENARIOS)
    assert resolved["model"] == ["sim-model"]
    assert resolved["quant"] == ["none"]
    assert resolved["concurrency"] == ["1", "4"]
    assert resolved["dataset"] == ["gpqa"]
    assert resolved["backend"] == ["threading-pool"]
    assert resolved["metric_prefix"] == [PREFIX]


def test_every_panel_target_returns_data(
    dashboard: dict[str, Any], answers: dict[tuple[str, str], list[Series]]
) -> None:
    targets = panel_targets(dashboard)
    empty = [f"{t.panel} {t.ref_id}" for t in targets if not answers[(t.panel, t.ref_id)]]

    assert len(targets) >= 40
    assert empty == []


def latest(
    answers: dict[tuple[str, str], list[Series]], panel: str, ref: str, **labels: str
) -> float:
    matching = [
        series
        for series in answers[(panel, ref)]
        if all(series.labels.get(name) == value for name, value in labels.items())
    ]
    assert len(matching) == 1, (panel, ref, labels, answers[(panel, ref)])
    return matching[0].last


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("concurrency", CONCURRENCIES)
def test_headline_panels_show_the_csv_values_today_yesterday_and_a_week_ago(
    pushed: Stack,
    answers: dict[tuple[str, str], list[Series]],
    scenario: str,
    concurrency: int,
) -> None:
    point = {"scenario": scenario, "concurrency": str(concurrency)}
    for ref, run in (("A", "today"), ("B", "yesterday"), ("C", "week")):
        run_dir = pushed.runs[run]
        for panel, column in (
            ("TTFT", "TP99_TTFT(s)"),
            ("E2E latency", "TP99_E2E(s)"),
            ("ITL", "TP99_ITL(s)"),
            ("QPS", "QPS"),
        ):
            expected = csv_value(run_dir, scenario, concurrency, column)
            assert latest(answers, panel, ref, **point) == pytest.approx(expected), (panel, run)

    today = csv_value(pushed.runs["today"], scenario, concurrency, "TP99_TTFT(s)")
    yesterday = csv_value(pushed.runs["yesterday"], scenario, concurrency, "TP99_TTFT(s)")
    change = latest(answers, "Change vs -1d and -7d (%, quantile $quantile)", "A", **point)
    assert change == pytest.approx(100 * (today / yesterday - 1))
    assert change > 0  # today was pushed slower


def test_functional_accuracy_gates_and_run_health_panels(
    pushed: Stack, answers: dict[tuple[str, str], list[Series]]
) -> None:
    cases = {
        (s.labels["scenario"], s.labels["case_id"]): s.last
        for s in answers[("Functional cases (latest daily run)", "A")]
    }
    assert cases[("sim-b", "stop")] == 0.0
    assert cases[("sim-a", "stop")] == 1.0
    assert ("sim-a", "parallel_calls") not in cases  # skipped: counted, not shown as red
    assert latest(answers, "Skipped functional cases", "A", scenario="sim-a", suite="tools") == 1
    assert latest(answers, "Accuracy score", "A", scenario="sim-a") == pytest.approx(0.4)
    assert latest(answers, "Hours since last successful daily run", "A", scenario="sim-a") < 0.1
    info = answers[("Latest daily run per scenario", "A")]
    assert {s.labels["run_id"] for s in info} == {"daily-today"}
    assert latest(answers, "Preemptions", "A", scenario="sim-b", concurrency="4") == 1


def test_capacity_goodput_prefix_cache_and_multi_turn_panels(
    pushed: Stack, answers: dict[tuple[str, str], list[Series]]
) -> None:
    # today's run is 1.5x slower (sim-b 3x): its searches answered int(16 / 1.5), int(24 / 1.5)
    for panel, answers_by_scenario in (
        ("Max concurrency under SLO", (10, 5)),
        ("Max request rate under SLO", (16, 8)),
    ):
        for scenario, answer in zip(SCENARIOS, answers_by_scenario, strict=True):
            value = latest(answers, panel, "A", scenario=scenario, slo="ttft_p99_s=0.5")
            assert value == answer, (panel, scenario)
    for ref, run in (("A", "today"), ("C", "week")):
        expected = [r.goodput for r in _rows(pushed.runs[run], "sim-b") if r.concurrency == 4]
        assert latest(answers, "Goodput", ref, scenario="sim-b", concurrency="4") == expected[0]
    hit = latest(answers, "Prefix-cache hit rate", "A", scenario="sim-a", concurrency="1")
    assert hit == pytest.approx(round(0.8 / 1.5, 3))
    (today,) = [r for r in _rows(pushed.runs["today"], "sim-a") if r.concurrency == 1]
    multi = "Multi-turn TTFT: first vs later turns"
    for ref, value in (("A", today.first_turn_ttft_p50_s), ("D", today.later_turn_ttft_p99_s)):
        assert latest(answers, multi, ref, scenario="sim-a", concurrency="1") == value


def _rows(run_dir: Path, scenario: str) -> list[PerfSummaryRow]:
    [path] = (run_dir / scenario / "perf").glob("summary_*.csv")
    return read_summary(path)


def test_a_second_daily_push_adds_no_latency_series(pushed: Stack) -> None:
    # run_id/commit/branch live on run_info only: today's push replaces yesterday's samples.
    assert pushed.latency_series_after["today"] == pushed.latency_series_after["yesterday"]
    assert pushed.latency_series_after["today"] > 0


def test_a_target_with_an_undeclared_variable_is_reported() -> None:
    target = PanelTarget("p", "timeseries", "A", 'x{a=~"$nope"}', False, "")

    with pytest.raises(Exception, match=r"\$nope"):
        expand(target.expr, {})


def test_the_picture_shows_every_panel_with_the_values_prometheus_answered(
    pushed: Stack,
    dashboard: dict[str, Any],
    answers: dict[tuple[str, str], list[Series]],
    tmp_path: Path,
) -> None:
    chromium = require_tool(chromium_binary(), "chromium", "chromium")
    page = render_html(dashboard, answers, pushed.now - WEEK_S, pushed.now)
    path = tmp_path / "dashboard.html"
    path.write_text(page)

    for panel in dashboard["panels"]:
        assert html.escape(panel["title"]) in page
    ttft = latest(answers, "TTFT", "A", scenario="sim-b", concurrency="4")
    assert f"today sim-b threading-pool c4 in32 out8 <b>{ttft:.4g}</b>" in page
    assert page.count("<svg") == sum(p["type"] == "timeseries" for p in dashboard["panels"])
    assert '<td class="num red">FAIL</td>' in page  # the red functional case and failed gates

    png = tmp_path / "dashboard.png"
    screenshot(chromium, path, png, page_height(dashboard))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000
