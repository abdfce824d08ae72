"""The Grafana dashboard: committed JSON matches the generator, is well formed, and queries only
metrics the exporter writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cibench.artifacts import read_run
from cibench.cli import main
from cibench.config.settings import Settings
from cibench.dashboards import DASHBOARD_PATH, render_dashboard
from cibench.gates.rules import evaluate
from cibench.metrics.build import build_registry
from tests.support.dashboard_stack import daily_run
from tests.support.pushgateway import require_tool

REPO = Path(__file__).resolve().parents[2]
PREFIX = Settings().metric_prefix
SPEC_VARIABLES = {
    "model",
    "quant",
    "scenario",
    "dataset",
    "concurrency",
    "input_len",
    "output_len",
    "backend",
    "quantile",
    "metric_prefix",
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_dashboard(PREFIX))
    return data


def targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_committed_dashboard_is_what_the_generator_writes() -> None:
    committed = (REPO / DASHBOARD_PATH).read_text(encoding="utf-8")

    assert committed == render_dashboard(PREFIX), "run `cibench dashboards` and commit the file"


def test_dashboard_shape(dashboard: dict[str, Any]) -> None:
    assert dashboard["title"]
    assert 0 < len(dashboard["uid"]) <= 40
    assert dashboard["time"] == {"from": "now-7d", "to": "now"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(target["expr"] for target in panel["targets"])


def test_every_spec_variable_exists_and_every_used_variable_is_declared(
    dashboard: dict[str, Any],
) -> None:
    declared = {variable["name"] for variable in dashboard["templating"]["list"]}
    used = set(re.findall(r"\$\{?(\w+)", json.dumps(dashboard["panels"])))
    used |= set(re.findall(r"\$\{?(\w+)", json.dumps(dashboard["templating"])))

    assert declared >= SPEC_VARIABLES
    assert used <= declared


def test_every_query_is_daily_only_and_balanced(dashboard: dict[str, Any]) -> None:
    for title, expr in targets(dashboard):
        assert 'run_type="daily"' in expr, title
        assert expr.count("(") == expr.count(")"), title
        assert expr.count("{") == expr.count("}"), title


@pytest.mark.parametrize(
    "title", ["TTFT", "E2E latency", "QPS", "Output token throughput", "Total token throughput"]
)
def test_comparison_panels_show_today_minus_one_day_and_minus_seven_days(
    dashboard: dict[str, Any], title: str
) -> None:
    [panel] = [panel for panel in dashboard["panels"] if panel["title"] == title]
    exprs = [target["expr"] for target in panel["targets"]]

    assert ["offset" in e for e in exprs] == [False, True, True]
    assert "offset 1d" in exprs[1]
    assert "offset 7d" in exprs[2]
    assert [t["legendFormat"].split()[0] for t in panel["targets"]] == ["today", "-1d", "-7d"]


def test_the_functional_table_is_green_for_one_and_red_for_zero(dashboard: dict[str, Any]) -> None:
    [panel] = [p for p in dashboard["panels"] if p["title"].startswith("Functional cases")]
    [mapping] = panel["fieldConfig"]["defaults"]["mappings"]

    assert mapping["options"]["1"]["color"] == "green"
    assert mapping["options"]["0"]["color"] == "red"
    assert "functional_case_pass" in panel["targets"][0]["expr"]


def test_every_queried_metric_is_one_the_exporter_writes(
    dashboard: dict[str, Any], tmp_path: Path
) -> None:
    # a daily run with ITL, server-side columns and a skipped functional case
    run_dir = daily_run(tmp_path, "daily", time.time(), 1.5, failing_case=True)
    run = read_run(run_dir)
    registry = build_registry(run, evaluate(run, None, Settings().gates), prefix=PREFIX, now_s=0.0)
    text = generate_latest(registry).decode()
    exported = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }

    queried = set()
    for _, expr in targets(dashboard):
        queried |= set(re.findall(r"\$\{metric_prefix\}(\w+)", expr))
    queried_full = {PREFIX + name for name in queried}

    assert queried_full <= exported, queried_full - exported
    assert len(queried) >= 10


def test_check_flags_drift_and_regenerating_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dash.json"
    configs = tmp_path / "configs"
    configs.mkdir()
    path.write_text(render_dashboard(PREFIX).replace("now-7d", "now-1d"))

    assert main(["dashboards", "--check", "--output", str(path), "--configs", str(configs)]) == 1
    assert "differs from the generator" in capsys.readouterr().err
    assert main(["dashboards", "--output", str(path), "--configs", str(configs)]) == 0
    assert main(["dashboards", "--check", "--output", str(path), "--configs", str(configs)]) == 0


def test_stale_pushgateway_groups_are_left_out(dashboard: dict[str, Any]) -> None:
    # A group not pushed for 26 h (an ephemeral runner's hostname) must not feed today's line.
    for title, expr in targets(dashboard):
        if "last_success" in expr:
            continue
        assert "and on (instance, scenario)" in expr, title
        assert "push_time_seconds" in expr, title
    [panel] = [p for p in dashboard["panels"] if p["title"] == "QPS"]
    week = panel["targets"][2]["expr"]
    assert "(time() - 604800 - push_time_seconds offset 7d < 93600)" in week


def test_every_query_is_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    promtool = require_tool(shutil.which("promtool"), "promtool", "prometheus")
    values = {"metric_prefix": PREFIX, "quantile": "0.99", "datasource": "Prometheus"}
    rules = []
    for index, (_, expr) in enumerate(targets(dashboard)):
        concrete = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m[1], ".*"), expr)
        rules.append({"record": f"cibench:dashboard_query_{index}", "expr": concrete})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, check=False)  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
