"""dashboards/alerts.yml: valid for promtool, its unit tests pass, and it names exported metrics."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from cibench.config.settings import Settings
from tests.support.pushgateway import require_tool

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
ALERTS = DASHBOARDS / "alerts.yml"


def promtool(*args: str) -> str:
    binary = require_tool(shutil.which("promtool"), "promtool", "prometheus")
    done = subprocess.run(
        [binary, *args], cwd=DASHBOARDS, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_rules_file_is_valid() -> None:
    assert "SUCCESS: 3 rules found" in promtool("check", "rules", ALERTS.name)


def test_each_alert_fires_on_its_failure_and_not_on_healthy_series() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_the_alerts_use_the_default_prefix_and_daily_runs_only() -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    prefix = Settings().metric_prefix

    assert names == {"CibenchDailyGateFailed", "CibenchNoDailyPush", "CibenchFunctionalCaseRed"}
    for rule in rules:
        for metric in re.findall(r"\b(vllm_cibench_\w+)\{", rule["expr"]):
            assert metric.startswith(prefix)
            assert 'run_type="daily"' in rule["expr"], rule["alert"]
