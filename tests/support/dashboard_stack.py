"""A real Pushgateway + Prometheus holding a week of daily cibench runs of two scenarios.

Used by the dashboard test and by `python -m tests.support.dashboard_picture`. The runs are
written with the stages' own writers and sent with `cibench gate` / `cibench push`. A week-old
and a day-old run become TSDB blocks (`promtool tsdb create-blocks-from openmetrics` of the
Pushgateway's own `/metrics` page, stamped 7 d and 1 d ago), then yesterday's and today's runs
are pushed live (today 1.5x slower, one functional case red) and scraped, as a nightly would
have left them.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from cibench.artifacts import CapacityRow, LatencyStats, PerfSummaryRow
from cibench.artifacts.reader import read_summary
from cibench.capacity.files import append_capacity, capacity_path
from cibench.cli import main
from cibench.dashboard_queries import PrometheusApi, Series
from tests.support.artifacts import (
    perf_row,
    write_accuracy,
    write_functional,
    write_perf,
    write_run_json,
    write_session,
)
from tests.support.prometheus import as_openmetrics, backfill, run_prometheus
from tests.support.pushgateway import pushgateway_binary, run_pushgateway

JOB = "vllm_cibench"
INSTANCE = "ci-daily"
SCENARIOS = ("sim-a", "sim-b")
CONCURRENCIES = (1, 4)
DAY_S = 86400.0
WEEK_S = 7 * DAY_S
RUNS = (("week", WEEK_S, 0.9), ("yesterday", DAY_S, 1.0), ("today", 0.0, 1.5))
"""(name, age, slowdown): the three daily runs; today's is the slowed one."""


@dataclass(frozen=True)
class Stack:
    """The running servers and what was pushed."""

    prometheus: str
    runs: dict[str, Path]
    """`week`, `yesterday`, `today` -> run directory."""
    latency_series_after: dict[str, int]
    """Latency series Prometheus holds after the live push of `yesterday` and of `today`."""
    now: float


def daily_run(root: Path, name: str, end_s: float, slowdown: float, failing_case: bool) -> Path:
    """A daily run of both scenarios (two load points each) written with the stages' writers."""
    run_dir = root / name
    end = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(end_s))
    write_session(
        run_dir,
        {scenario: ("functional", "perf", "accuracy") for scenario in SCENARIOS},
        run_id=f"daily-{name}",
        run_type="daily",
        commit=f"c0ffee{name[:2]}",
        end=end,
    )
    for index, scenario in enumerate(SCENARIOS):
        write_run_json(run_dir, scenario)
        cases = [
            ("chat_core", "basic", "pass"),
            ("chat_core", "stop", "fail" if failing_case and index == 1 else "pass"),
            ("tools", "parallel_calls", "skip"),
        ]
        write_functional(run_dir, scenario, cases)
        rows = []
        for concurrency in CONCURRENCIES:
            scale = slowdown * (1 + index) * (1 + concurrency / 10)
            row = perf_row(
                concurrency=concurrency,
                ttft_p99=round(0.1 * scale, 4),
                e2e_p99=round(0.4 * scale, 4),
                qps=round(8.0 / scale, 3),
                itl=LatencyStats(
                    percentiles={99.0: round(0.01 * scale, 5)}, avg=round(0.008 * scale, 5)
                ),
                server_queue_time_ms=round(2.0 * scale, 3),
                server_prefill_time_ms=round(15.0 * scale, 3),
                server_decode_time_ms=round(80.0 * scale, 3),
                server_preemptions=1.0 if slowdown > 1 else 0.0,
                goodput=round(7.0 / scale, 3),
                goodput_slo="ttft_s=0.5",
                server_prefix_cache_hit_rate=round(0.8 / slowdown, 3),
                first_turn_ttft_p50_s=round(0.08 * scale, 4),
                first_turn_ttft_p99_s=round(0.1 * scale, 4),
                later_turn_ttft_p50_s=round(0.05 * scale, 4),
                later_turn_ttft_p99_s=round(0.07 * scale, 4),
            )
            rows.append(row)
        write_perf(run_dir, scenario, rows)
        write_capacity(run_dir, scenario, slowdown * (1 + index))
        write_accuracy(run_dir, scenario, score=round(0.6 / slowdown, 3))
    return run_dir


CAPACITY = (("concurrency", 16.0), ("rate", 24.0))
"""(search over, answer of an unslowed sim-a): each daily run's SLO searches answer
int(answer / slowdown), sim-b (twice as slow) half of that."""


def write_capacity(run_dir: Path, scenario: str, slowdown: float) -> None:
    """The run's `capacity_*.csv`: one SLO search over concurrency and one over the rate."""
    perf_dir = run_dir / scenario / "perf"
    for over, answer in CAPACITY:
        row = CapacityRow(
            scenario=scenario,
            model="sim-model",
            provider="sim",
            backend="threading-pool",
            search_over=over,
            input_length=32,
            output_length=8,
            slo="ttft_p99_s=0.5",
            slo_hash="5a1e0c0d",
            capacity=float(int(answer / slowdown)),
            lowest_breaking=float(int(answer / slowdown) + 1),
            resolution=1.0,
            converged=True,
            stop_reason="converged",
            probes=6,
        )
        append_capacity(capacity_path(perf_dir, "sim"), row)


COLUMNS = {
    "TP99_TTFT(s)": lambda row: row.ttft.at(99),
    "TP99_E2E(s)": lambda row: row.e2e.at(99),
    "TP99_ITL(s)": lambda row: row.itl.at(99),
    "QPS": lambda row: row.qps,
}
"""Summary CSV columns the dashboard test compares, read from the parsed rows."""


def csv_value(run_dir: Path, scenario: str, concurrency: int, column: str) -> float:
    """One cell of a run's perf summary CSV (a `COLUMNS` name)."""
    [path] = (run_dir / scenario / "perf").glob("summary_*.csv")
    rows: list[PerfSummaryRow] = read_summary(path)
    for row in rows:
        if row.concurrency == concurrency:
            value = COLUMNS[column](row)
            if value is None:
                raise LookupError(f"{column} is empty in {path}")
            return float(value)
    raise LookupError(f"no row for concurrency {concurrency} in {path}")


def _cli(*args: str) -> int:
    return main([*args, "--configs", "/nonexistent-configs"])  # the default settings


def _wait_for(api: PrometheusApi, expr: str, expected: float, timeout_s: float = 30.0) -> None:
    """Until `expr` (one series) evaluates to `expected`: the push was scraped."""
    deadline = time.monotonic() + timeout_s
    got: list[Series] = []
    while time.monotonic() < deadline:
        got = api.instant(expr, time.time())
        if got and abs(got[0].last - expected) < 1e-9:
            return
        time.sleep(0.3)
    raise RuntimeError(f"Prometheus never answered {expected} to {expr}: {got}")


def _latency_series(api: PrometheusApi, prefix: str, since: float) -> int:
    selector = f'{{__name__=~"{prefix}(ttft|tpot|e2e|itl)_seconds.*", job="{JOB}"}}'
    data = httpx.get(
        f"{api.url}/api/v1/series",
        params={"match[]": selector, "start": since, "end": time.time()},
        timeout=10.0,
    ).json()["data"]
    return len(data)


def missing_tools() -> list[str]:
    """The Debian packages whose binaries the stack needs and that are not on PATH."""
    missing = []
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        missing.append("prometheus")
    if pushgateway_binary() is None:
        missing.append("prometheus-pushgateway")
    return missing


def _plan(history_days: int) -> tuple[list[tuple[str, float, float]], int]:
    """(runs as (name, age, slowdown), how many of them are backfilled) for a stack."""
    if not history_days:
        return list(RUNS), 2
    days = [
        (f"day-{day}", day * DAY_S, round(1.0 + 0.06 * ((day * 37) % 5 - 2), 2))
        for day in range(history_days, 0, -1)
    ]
    return [*days, RUNS[-1]], len(days)


@contextlib.contextmanager
def daily_stack(root: Path, prefix: str, *, history_days: int = 0) -> Iterator[Stack]:
    """Start the servers under `root`, fill them with daily runs, yield; stop them after.

    By default (the test): a week-old and a day-old run backfilled as single samples, then
    yesterday's and today's pushed live. With `history_days` (the picture): one run a day for
    that many days, each backfilled as scraped every 30 min until the next day's push (with a
    35 min query lookback to match), then today's pushed live.
    """
    prometheus_bin = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    gateway_bin = pushgateway_binary()
    if prometheus_bin is None or promtool is None or gateway_bin is None:
        raise RuntimeError(f"apt-get install {' '.join(missing_tools())}")
    now = time.time()
    plan, backfilled = _plan(history_days)
    every_s = 1800.0 if history_days else 0.0
    runs = {
        name: daily_run(root, name, now - age_s, slowdown, failing_case=slowdown > 1.2)
        for name, age_s, slowdown in plan
    }
    for (baseline, _, _), (run, _, _) in itertools.pairwise(plan):
        # gates.json for gate_pass; exit 6 means a gate failed, as a slowed run should
        if _cli("gate", str(runs[run]), "--baseline", str(runs[baseline])) not in (0, 6):
            raise RuntimeError(f"cibench gate {runs[run]} failed")
    with run_pushgateway(gateway_bin) as gateway:
        for name, age_s, _ in plan[:backfilled]:
            _push(runs[name], gateway)
            page = httpx.get(f"{gateway}/metrics", timeout=10.0).text
            pushed_s = now - age_s
            until = min(pushed_s + DAY_S, now - 600)
            scrapes = (
                [pushed_s + k * every_s for k in range(1, int((until - pushed_s) // every_s))]
                if every_s
                else []
            )
            backfill(promtool, as_openmetrics(page, JOB, pushed_s, scrapes), root / "data", root)
            httpx.put(f"{gateway}/api/v1/admin/wipe", timeout=5.0).raise_for_status()
        lookback = ["--query.lookback-delta=35m"] if every_s else []
        with run_prometheus(prometheus_bin, gateway, root, extra_args=lookback) as prometheus:
            api = PrometheusApi(prometheus)
            ttft = (
                f'{prefix}ttft_seconds{{scenario="sim-a", concurrency="1", quantile="0.99", '
                f'job="{JOB}"}}'
            )
            counts = {}
            try:
                for name, _, _ in plan[1 if not history_days else backfilled :]:
                    _push(runs[name], gateway)
                    _wait_for(api, ttft, csv_value(runs[name], "sim-a", 1, "TP99_TTFT(s)"))
                    counts[name] = _latency_series(api, prefix, now - 300)
            finally:
                api.close()
            yield Stack(prometheus, runs, counts, time.time())


def _push(run_dir: Path, gateway: str) -> None:
    if _cli("push", str(run_dir), "--pushgateway", gateway, "--instance", INSTANCE):
        raise RuntimeError(f"cibench push {run_dir} failed")
