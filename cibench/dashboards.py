"""The Grafana dashboard for daily cibench results, generated with grafanalib (SPEC §9).

Every query reads daily series only (`run_type="daily"`), takes the metric names through the
`metric_prefix` dashboard variable, and drops per-run labels (`run_id`, `commit`, ...) with
`max by (...)`, so that today's value, `offset 1d` and `offset 7d` line up as three series.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafanalib._gen import DashboardEncoder
from grafanalib.core import (
    Dashboard,
    GridPos,
    Panel,
    RowPanel,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

DASHBOARD_PATH = Path("dashboards") / "vllm_cibench.json"
DASHBOARD_UID = "vllm-cibench-daily"
DATASOURCE = "${datasource}"
PREFIX = "${metric_prefix}"
GRID_WIDTH = 24
PANEL_HEIGHT = 8

LOAD_POINT_LABELS = (
    "scenario, model, quant, backend, control_method, concurrency, request_rate, growth_rate, "
    "input_len, output_len"
)
LOAD_POINT_LEGEND = "{{scenario}} {{backend}} c{{concurrency}} in{{input_len}} out{{output_len}}"
SCENARIO_FILTER = 'run_type="daily", model=~"$model", quant=~"$quant", scenario=~"$scenario"'
LOAD_POINT_FILTER = (
    SCENARIO_FILTER + ', backend=~"$backend", concurrency=~"$concurrency", '
    'input_len=~"$input_len", output_len=~"$output_len"'
)
COMPARISONS = (("A", "", "today"), ("B", " offset 1d", "-1d"), ("C", " offset 7d", "-7d"))
OFFSET_SHIFT = {"": "", " offset 1d": " - 86400", " offset 7d": " - 604800"}
FRESH_SECONDS = 26 * 3600
"""A Pushgateway group not pushed for this long is stale (a runner that no longer exists)."""


def fresh(metric: str, selector: str, offset: str = "") -> str:
    """`metric{selector}` (shifted by `offset`) from groups pushed in the 26 h before then.

    The Pushgateway never forgets a group: an ephemeral CI runner's hostname keeps its last
    values forever, and `max by (...)` would mix them into today's line. `push_time_seconds`
    carries the same `instance` and `scenario` grouping labels, so `and on (...)` drops them.
    """
    return (
        f"({PREFIX}{metric}{{{selector}}}{offset} and on (instance, scenario) "
        f"(time(){OFFSET_SHIFT[offset]} - push_time_seconds{offset} < {FRESH_SECONDS}))"
    )


def _query_variable(name: str, label: str, metric: str, selector: str) -> Template:
    return Template(
        name=name,
        label=label,
        query=f"label_values({PREFIX}{metric}{{{selector}}}, {name})",
        dataSource=DATASOURCE,
        type="query",
        includeAll=True,
        multi=True,
        allValue=".*",
        default="All",
        refresh=2,
        sort=1,
    )


def templating(prefix: str) -> Templating:
    """The dashboard variables: data source, metric prefix, label filters and the quantile."""
    scenario_selector = 'run_type="daily"'
    load_selector = 'run_type="daily", scenario=~"$scenario"'
    return Templating(
        list=[
            Template(
                name="datasource",
                label="Data source",
                query="prometheus",
                type="datasource",
                default="Prometheus",
            ),
            Template(
                name="metric_prefix",
                label="Metric prefix",
                query=prefix,
                type="textbox",
                default=prefix,
            ),
            _query_variable("model", "Model", "run_info", scenario_selector),
            _query_variable("quant", "Quant", "run_info", 'run_type="daily", model=~"$model"'),
            _query_variable(
                "scenario", "Scenario", "run_info", 'run_type="daily", model=~"$model"'
            ),
            _query_variable("dataset", "Dataset", "accuracy_score", 'run_type="daily"'),
            _query_variable("backend", "Backend", "requests_per_second", load_selector),
            _query_variable("concurrency", "Concurrency", "requests_per_second", load_selector),
            _query_variable("input_len", "Input length", "requests_per_second", load_selector),
            _query_variable("output_len", "Output length", "requests_per_second", load_selector),
            Template(
                name="quantile",
                label="Quantile",
                query="0.5,0.75,0.9,0.95,0.99",
                type="custom",
                default="0.99",
            ),
        ]
    )


def _compare_panel(title: str, metric: str, extra: str, unit: str, description: str) -> TimeSeries:
    """Today, -1d and -7d of one per-load-point metric in one chart (PromQL `offset`)."""
    selector = LOAD_POINT_FILTER + extra
    targets = [
        Target(
            expr=f"max by ({LOAD_POINT_LABELS}) {fresh(metric, selector, offset)}",
            legendFormat=f"{legend} {LOAD_POINT_LEGEND}",
            refId=ref,
            datasource=DATASOURCE,
        )
        for ref, offset, legend in COMPARISONS
    ]
    return _time_series(title, description, targets, unit)


def _time_series(title: str, description: str, targets: list[Target], unit: str) -> TimeSeries:
    """A step-line chart with points and a table legend, as every chart here is drawn."""
    return TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=targets,
        unit=unit,
        lineInterpolation="stepAfter",
        showPoints="always",
        legendDisplayMode="table",
        legendPlacement="bottom",
    )


def _series_panel(title: str, expr: str, legend: str, unit: str, description: str) -> TimeSeries:
    target = Target(expr=expr, legendFormat=legend, refId="A", datasource=DATASOURCE)
    return _time_series(title, description, [target], unit)


def _pass_fail_table(title: str, expr: str, description: str) -> Table:
    """An instant table whose `Value` cells read PASS on green (1) and FAIL on red (0)."""
    mappings = [
        {
            "type": "value",
            "options": {
                "0": {"text": "FAIL", "color": "red", "index": 1},
                "1": {"text": "PASS", "color": "green", "index": 0},
            },
        }
    ]
    return Table(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=[Target(expr=expr, format="table", instant=True, refId="A", datasource=DATASOURCE)],
        displayMode="color-background",
        filterable=True,
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "result"}},
            }
        ],
        extraJson={
            "fieldConfig": {
                "defaults": {
                    "mappings": mappings,
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [
                            {"color": "red", "value": None},
                            {"color": "green", "value": 1},
                        ],
                    },
                }
            }
        },
    )


def _multi_series_panel(
    title: str, queries: list[tuple[str, str]], unit: str, description: str
) -> TimeSeries:
    """Several per-load-point metrics in one chart: (metric, legend prefix) each."""
    targets = [
        Target(
            expr=f"max by ({LOAD_POINT_LABELS}) {fresh(metric, LOAD_POINT_FILTER)}",
            legendFormat=f"{legend} {LOAD_POINT_LEGEND}",
            refId=chr(ord("A") + index),
            datasource=DATASOURCE,
        )
        for index, (metric, legend) in enumerate(queries)
    ]
    return _time_series(title, description, targets, unit)


CAPACITY_LABELS = "scenario, model, quant, backend, input_len, output_len, slo"


def _capacity_panel(title: str, metric: str, unit: str, description: str) -> TimeSeries:
    """A search's daily answer over time, one line per scenario, shape and SLO."""
    selector = (
        SCENARIO_FILTER + ', backend=~"$backend", input_len=~"$input_len", '
        'output_len=~"$output_len"'
    )
    return _series_panel(
        title,
        f"max by ({CAPACITY_LABELS}) {fresh(metric, selector)}",
        "{{scenario}} {{backend}} in{{input_len}} out{{output_len}} SLO {{slo}}",
        unit,
        description,
    )


CHANGE_METRICS = (
    ("TTFT", "ttft_seconds", ', quantile="$quantile"'),
    ("TPOT", "tpot_seconds", ', quantile="$quantile"'),
    ("E2E", "e2e_seconds", ', quantile="$quantile"'),
    ("QPS", "requests_per_second", ""),
)


def change_expr(metric: str, extra: str, offset: str) -> str:
    """Today's value over the value `offset` ago, minus 1, in percent, per load point."""
    selector = LOAD_POINT_FILTER + extra
    today = f"max by ({LOAD_POINT_LABELS}) {fresh(metric, selector)}"
    before = f"max by ({LOAD_POINT_LABELS}) {fresh(metric, selector, offset)}"
    return f"100 * ({today} / {before} - 1)"


def _change_table() -> Table:
    """Latest change against one day and one week ago, in percent (one row per load point)."""
    targets = []
    for index, ((name, metric, extra), (offset, label)) in enumerate(
        (item, shift)
        for item in CHANGE_METRICS
        for shift in ((" offset 1d", "vs -1d"), (" offset 7d", "vs -7d"))
    ):
        targets.append(
            Target(
                expr=change_expr(metric, extra, offset),
                legendFormat=f"{name} {label}",
                format="table",
                instant=True,
                refId=chr(ord("A") + index),
                datasource=DATASOURCE,
            )
        )
    return Table(
        title="Change vs -1d and -7d (%, quantile $quantile)",
        description="100 x (today / then - 1) per load point: positive latency or negative QPS "
        "is worse. Empty where no run was pushed a day or a week ago.",
        dataSource=DATASOURCE,
        targets=targets,
        filterable=True,
        transformations=[{"id": "merge", "options": {}}],
        extraJson={"fieldConfig": {"defaults": {"unit": "percent", "decimals": 1}}},
    )


def panels() -> list[Panel]:
    """Rows of panels in reading order (layout is assigned by `layout`)."""
    accuracy_filter = SCENARIO_FILTER + ', dataset=~"$dataset"'
    return [
        RowPanel(title="Latency: today vs -1d vs -7d (quantile $quantile)"),
        _compare_panel(
            "TTFT",
            "ttft_seconds",
            ', quantile="$quantile"',
            "s",
            "Time to first token at the selected quantile, per load point.",
        ),
        _compare_panel(
            "E2E latency",
            "e2e_seconds",
            ', quantile="$quantile"',
            "s",
            "End-to-end request latency at the selected quantile, per load point.",
        ),
        _compare_panel(
            "TPOT",
            "tpot_seconds",
            ', quantile="$quantile"',
            "s",
            "Time per output token after the first, at the selected quantile.",
        ),
        _compare_panel(
            "Time between first and second token",
            "time_between_first_and_second_token_seconds",
            ', quantile="$quantile"',
            "s",
            "Gap between the first and the second generated token, at the selected quantile.",
        ),
        _compare_panel(
            "ITL",
            "itl_seconds",
            ', quantile="$quantile"',
            "s",
            "Inter-token latency (gaps between streamed chunks) at the selected quantile.",
        ),
        _change_table(),
        RowPanel(title="Throughput: today vs -1d vs -7d"),
        _compare_panel(
            "QPS",
            "requests_per_second",
            "",
            "reqps",
            "Successful requests per second, per load point.",
        ),
        _compare_panel(
            "Output token throughput",
            "output_token_throughput_tokens_per_second",
            "",
            "short",
            "Generated tokens per second, per load point.",
        ),
        _compare_panel(
            "Total token throughput",
            "total_token_throughput_tokens_per_second",
            "",
            "short",
            "Prompt plus generated tokens per second, per load point.",
        ),
        _series_panel(
            "Failure ratio",
            f"max by ({LOAD_POINT_LABELS}) {fresh('failure_ratio', LOAD_POINT_FILTER)}",
            LOAD_POINT_LEGEND,
            "percentunit",
            "Failed over sent requests per load point; the PR gate fails above 5%.",
        ),
        RowPanel(title="Capacity, goodput and multi-turn"),
        _capacity_panel(
            "Max concurrency under SLO",
            "max_concurrency_under_slo",
            "short",
            "The largest concurrency at which the SLO held, found by the daily SLO search "
            "(control_method: search); one line per shape and SLO. Absent when no probe kept it.",
        ),
        _capacity_panel(
            "Max request rate under SLO",
            "max_rate_under_slo",
            "reqps",
            "The largest request rate (open loop) at which the SLO held, from the daily SLO "
            "search or QPS ladder; one line per shape and SLO.",
        ),
        _compare_panel(
            "Goodput",
            "goodput_requests_per_second",
            "",
            "reqps",
            "Requests per second that met the profile's per-request goodput SLO (goodput_slo), "
            "per load point.",
        ),
        _series_panel(
            "Prefix-cache hit rate",
            f"max by ({LOAD_POINT_LABELS}) "
            + fresh("server_prefix_cache_hit_rate", LOAD_POINT_FILTER),
            LOAD_POINT_LEGEND,
            "percentunit",
            "Prompt tokens the server served from its prefix cache over tokens looked up, per "
            "load point (from its /metrics; absent when it exports no prefix-cache counters).",
        ),
        _multi_series_panel(
            "Multi-turn TTFT: first vs later turns",
            [
                ("first_turn_ttft_p50_seconds", "first turn p50"),
                ("first_turn_ttft_p99_seconds", "first turn p99"),
                ("later_turn_ttft_p50_seconds", "later turns p50"),
                ("later_turn_ttft_p99_seconds", "later turns p99"),
            ],
            "s",
            "Multi-turn sessions: TTFT of each conversation's first turn against turns 2.., "
            "whose prompt carries the history (prefix caching should keep them close).",
        ),
        RowPanel(title="Server side (the server's own /metrics, averaged over the load point)"),
        _multi_series_panel(
            "Server queue, prefill and decode time",
            [
                ("server_queue_time_avg_seconds", "queue"),
                ("server_prefill_time_avg_seconds", "prefill"),
                ("server_decode_time_avg_seconds", "decode"),
            ],
            "s",
            "Where a request's time went inside the server (vLLM's request histograms); "
            "absent when the server exposes no /metrics.",
        ),
        _multi_series_panel(
            "Preemptions",
            [("server_preemptions", "preemptions")],
            "short",
            "Requests the server preempted during the load point (KV cache pressure).",
        ),
        RowPanel(title="Accuracy"),
        _series_panel(
            "Accuracy score",
            "max by (scenario, model, dataset, variant) "
            + fresh("accuracy_score", accuracy_filter),
            "{{scenario}} {{dataset}} {{variant}}",
            "percentunit",
            "Daily accuracy score per dataset (simple-evals protocol).",
        ),
        RowPanel(title="Functional"),
        _pass_fail_table(
            "Functional cases (latest daily run)",
            "max by (scenario, suite, case_id) " + fresh("functional_case_pass", SCENARIO_FILTER),
            "1 = passed (green), 0 = failed (red); skipped cases are absent.",
        ),
        _series_panel(
            "Functional pass ratio",
            "max by (scenario, suite) " + fresh("functional_pass_ratio", SCENARIO_FILTER),
            "{{scenario}} {{suite}}",
            "percentunit",
            "Passed over run cases per suite.",
        ),
        _series_panel(
            "Skipped functional cases",
            "max by (scenario, suite) " + fresh("functional_cases_skipped", SCENARIO_FILTER),
            "{{scenario}} {{suite}}",
            "short",
            "Cases not run (the server lacks the capability, or the suite skipped them); a pass "
            "ratio over few cases that ran says little.",
        ),
        RowPanel(title="Run health"),
        Stat(
            title="Hours since last successful daily run",
            description="Alert when this passes 26 h: the nightly did not finish or push.",
            dataSource=DATASOURCE,
            targets=[
                Target(
                    expr=f"(time() - max by (scenario) "
                    f"({PREFIX}last_success_timestamp_seconds{{{SCENARIO_FILTER}}})) / 3600",
                    legendFormat="{{scenario}}",
                    refId="A",
                    datasource=DATASOURCE,
                )
            ],
            format="h",
            reduceCalc="lastNotNull",
            thresholds=[
                {"color": "green", "value": None},
                {"color": "red", "value": 26},
            ],
        ),
        _pass_fail_table(
            "Gates (latest daily run)",
            "max by (scenario, gate) " + fresh("gate_pass", SCENARIO_FILTER),
            "1 = the gate passed, 0 = it failed (daily runs only warn); absent = no data.",
        ),
        Table(
            title="Latest daily run per scenario",
            description="run_info: run id, commit, branch and versions of the run whose values "
            "the panels show (run identity lives on this one series only).",
            dataSource=DATASOURCE,
            targets=[
                Target(
                    expr="max by (scenario, run_id, commit, branch, vllm_version, hardware) "
                    + fresh("run_info", SCENARIO_FILTER),
                    format="table",
                    instant=True,
                    refId="A",
                    datasource=DATASOURCE,
                )
            ],
            filterable=True,
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
            ],
        ),
    ]


def layout(items: list[Panel]) -> list[Panel]:
    """Place panels two per line under full-width row headers on the 24-column grid."""
    y = 0
    x = 0
    half = GRID_WIDTH // 2
    for item in items:
        if isinstance(item, RowPanel):
            if x:
                y += PANEL_HEIGHT
                x = 0
            item.gridPos = GridPos(h=1, w=GRID_WIDTH, x=0, y=y)
            y += 1
            continue
        item.gridPos = GridPos(h=PANEL_HEIGHT, w=half, x=x, y=y)
        x += half
        if x >= GRID_WIDTH:
            x = 0
            y += PANEL_HEIGHT
    return items


def build_dashboard(prefix: str) -> Dashboard:
    """The dashboard object; `prefix` is the default of the `metric_prefix` variable."""
    return Dashboard(
        title="vLLM cibench: daily",
        uid=DASHBOARD_UID,
        description="Daily cibench results: latency, throughput, capacity under the SLO, "
        "accuracy and functional cases, today against one day and one week ago. Generated by "
        "`cibench dashboards`; do not edit by hand.",
        tags=["cibench", "vllm"],
        timezone="utc",
        time=Time("now-7d", "now"),
        refresh="1h",
        graphTooltip=1,
        templating=templating(prefix),
        panels=layout(panels()),
    ).auto_panel_ids()


def render_dashboard(prefix: str) -> str:
    """The dashboard as the JSON text committed in `dashboards/vllm_cibench.json`."""
    data = build_dashboard(prefix).to_json_data()
    return json.dumps(data, cls=DashboardEncoder, sort_keys=True, indent=2) + "\n"
