"""Turn run results and gate verdicts into a dedicated `CollectorRegistry` (SPEC §7 names, labels).

Pure: no file, clock or network. Latency percentiles become Prometheus summaries (a `quantile`
label plus `_sum`/`_count`), averages, maxima and minima become gauges. A value that is not
available is left out, never written as 0 or -1.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from decimal import Decimal

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from cibench.artifacts import PerfSummaryRow, RunResults, ScenarioResults, metric_name
from cibench.failures.reasons import parse_reasons
from cibench.gates.rules import Verdict, gate_outcomes
from cibench.monitor.series import column_series

HIGH_FAILURE_RATIO = 0.2
"""`high_failure_ratio` is 1 above this failure ratio (SPEC §7)."""

LATENCY_NAMES = {
    "TTFT": ("ttft", "Time to first token"),
    "TPOT": ("tpot", "Time per output token after the first"),
    "E2E": ("e2e", "End-to-end request latency"),
    "ITL": ("itl", "Inter-token latency"),
    "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN": (
        "time_between_first_and_second_token",
        "Time between the first and the second token",
    ),
    "SERVER_TTFT": ("server_ttft", "Server-side time to first token"),
    "SERVER_TPOT": ("server_tpot", "Server-side time per output token"),
    "SERVER_E2E": ("server_e2e", "Server-side end-to-end request latency"),
    "SERVER_QUEUE_TIME": ("server_queue_time", "Server-side queueing time"),
    "SERVER_PREFILL_TIME": ("server_prefill_time", "Server-side prefill time"),
    "SERVER_DECODE_TIME": ("server_decode_time", "Server-side decode time"),
}
"""Summary-CSV latency family -> metric stem (`TTFT` -> `ttft_seconds`, `ttft_avg_seconds`)."""

PER_REQUEST_FAMILIES = frozenset({"TTFT", "TPOT", "E2E", "TIME_BETWEEN_FIRST_AND_SECOND_TOKEN"})
"""Families with one value per successful request, so `_count` = successes, `_sum` = avg x count."""
PER_REQUEST_STEMS = frozenset(LATENCY_NAMES[family][0] for family in PER_REQUEST_FAMILIES)

GAUGES = (
    ("requests_per_second", "qps", "Successful requests per second at the load point."),
    (
        "output_token_throughput_tokens_per_second",
        "output_token_throughput",
        "Generated tokens per second at the load point.",
    ),
    (
        "total_token_throughput_tokens_per_second",
        "total_token_throughput",
        "Prompt plus generated tokens per second at the load point.",
    ),
    ("failure_ratio", "fail_rate", "Failed requests over requests at the load point (0-1)."),
    ("server_preemptions", "server_preemptions", "Server preemptions during the load point."),
    (
        "goodput_requests_per_second",
        "goodput",
        "Requests meeting the profile's per-request goodput SLO per second.",
    ),
    (
        "server_prefix_cache_hit_rate",
        "server_prefix_cache_hit_rate",
        "Prompt tokens served from the server's prefix cache over tokens looked up (0-1).",
    ),
    *(
        (
            f"{turns}_turn_ttft_p{q}_seconds",
            f"{turns}_turn_ttft_p{q}_s",
            f"Multi-turn sessions: TTFT p{q} of {what}.",
        )
        for turns, what in (
            ("first", "each conversation's first turn"),
            ("later", "turns 2.., whose prompt carries the history"),
        )
        for q in (50, 99)
    ),
)
"""(metric name, `PerfSummaryRow` attribute, help) of the per-load-point gauges."""
STATS = ("max", "min", "avg")


def quantile_label(percentile: float) -> str:
    """The `quantile` label of a percentile: `99` -> `0.99`, `99.9` -> `0.999`."""
    return str((Decimal(f"{percentile:g}") / 100).normalize())


class _Families:
    """Metric families in first-seen order, so every family's samples stay together."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.by_name: dict[str, Metric] = {}

    def family(self, name: str, documentation: str, kind: str) -> Metric:
        full = self.prefix + name
        if full not in self.by_name:
            self.by_name[full] = Metric(full, documentation, kind)
        return self.by_name[full]

    def gauge(self, name: str, documentation: str, labels: dict[str, str], value: float) -> None:
        self.family(name, documentation, "gauge").add_sample(self.prefix + name, labels, value)

    def counter(self, name: str, documentation: str, labels: dict[str, str], value: float) -> None:
        """A per-run count whose name must end in `_total` (`name` is given without it)."""
        metric = self.family(name, documentation, "counter")
        metric.add_sample(self.prefix + name + "_total", labels, value)


class _StaticCollector(Collector):
    """Yields fixed, already built metric families."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def scenario_labels(run: RunResults, results: ScenarioResults) -> dict[str, str]:
    """Labels every metric of a scenario carries (empty values left out).

    Only values that stay the same from one daily run to the next: run identity (`run_id`,
    `commit`, `branch`, versions) is on `run_info` alone, so a daily push replaces yesterday's
    samples instead of starting new series (see `run_identity`).
    """
    labels = {
        "model": results.model,
        "quant": results.quant,
        "scenario": results.scenario,
        "run_type": run.run_type,
    }
    return {name: value for name, value in labels.items() if value}


def run_identity(run: RunResults, results: ScenarioResults) -> dict[str, str]:
    """The labels of `run_info` on top of `scenario_labels`: what changes with every run."""
    return {
        "run_id": run.run_id,
        "commit": run.commit,
        "branch": run.branch,
        "hardware": results.hardware,
        "vllm_version": results.vllm_version or "",
        "mode": results.mode,
        "served_model_name": results.served_model_name,
        "cibench_version": run.cibench_version,
    }


def scenario_succeeded(results: ScenarioResults) -> bool:
    """The server started and every expected stage left results."""
    return results.launch_error is None and all(
        results.has_results(stage) for stage in results.expected_stages
    )


def _perf_point(families: _Families, base: dict[str, str], point: PerfSummaryRow) -> None:
    labels = {**base, **point.key.labels()}
    for name, attribute, documentation in GAUGES:
        value = getattr(point, attribute)
        if value is not None:
            families.gauge(name, documentation, labels, float(value))
    if point.fail_rate is not None:
        families.gauge(
            "high_failure_ratio",
            f"1 when failure_ratio > {HIGH_FAILURE_RATIO}, else 0.",
            labels,
            1.0 if point.fail_rate > HIGH_FAILURE_RATIO else 0.0,
        )
    for column, value in point.resources.items():
        resource = column_series(column) if value is not None else None
        if resource is not None and value is not None:
            series, stat, scale = resource
            families.gauge(
                series.metric(stat),
                f"{series.description}, {stat} over the load point's samples.",
                labels,
                value * scale,
            )
    for reason, count in parse_reasons(point.failure_reasons or "").items():
        families.gauge(
            "failed_requests",
            "Failed requests at the load point by reason class (the five most frequent).",
            {**labels, "reason": reason},
            float(count),
        )
    summaries: list[tuple[str, str, list[tuple[float, float]], float | None]] = []
    for family, stats in point.latency().items():
        stem, description = LATENCY_NAMES[family]
        for stat in STATS:
            value = getattr(stats, stat)
            if value is not None:
                families.gauge(
                    f"{stem}_{stat}_seconds",
                    f"{description}, {stat} over the load point's requests, in seconds.",
                    labels,
                    value,
                )
        found = [(q, value) for q, value in stats.percentiles.items() if value is not None]
        if found:
            average = stats.avg if family in PER_REQUEST_FAMILIES else None
            summaries.append((stem, description, sorted(found), average))
    successes = None if point.success is None else float(point.success)
    for stem, description, quantiles, average in summaries:
        name = f"{stem}_seconds"
        metric = families.family(
            name, f"{description} over the load point's requests, in seconds.", "summary"
        )
        full = families.prefix + name
        for q, value in quantiles:
            metric.add_sample(full, {**labels, "quantile": quantile_label(q)}, value)
        per_request = stem in PER_REQUEST_STEMS
        if per_request and successes is not None and (average is not None or successes == 0):
            metric.add_sample(full + "_sum", labels, (average or 0.0) * successes)
            metric.add_sample(full + "_count", labels, successes)


def _capacity(families: _Families, base: dict[str, str], results: ScenarioResults) -> None:
    for found in results.capacity:
        if found.capacity is None:
            continue
        unit = {"rate": "requests/s", "concurrency": "concurrent requests"}.get(
            found.key.search_over, "tokens"
        )
        families.gauge(
            metric_name(found.key.search_over),
            f"Largest load ({unit}) at which the SLO held, found by the SLO search.",
            {**base, **found.key.labels(), "slo": found.slo},
            found.capacity,
        )


def _functional(
    families: _Families, base: dict[str, str], results: ScenarioResults, per_case: bool
) -> None:
    suites: dict[str, list[bool | None]] = {}
    for case in results.functional:
        outcome = None if case.skipped else not case.failed
        suites.setdefault(case.suite, []).append(outcome)
        if per_case and outcome is not None:
            families.gauge(
                "functional_case_pass",
                "1 when the functional case passed, 0 when it failed (skipped cases absent).",
                {**base, "suite": case.suite, "case_id": case.case_id},
                1.0 if outcome else 0.0,
            )
    for suite, outcomes in suites.items():
        labels = {**base, "suite": suite}
        ran = [outcome for outcome in outcomes if outcome is not None]
        families.counter(
            "functional_cases",
            "Functional cases in the suite, skipped ones included.",
            labels,
            float(len(outcomes)),
        )
        families.gauge(
            "functional_cases_failed",
            "Functional cases that failed or errored.",
            labels,
            float(sum(1 for outcome in ran if not outcome)),
        )
        families.gauge(
            "functional_cases_skipped",
            "Functional cases that did not run (skipped, e.g. a capability the server lacks).",
            labels,
            float(len(outcomes) - len(ran)),
        )
        if ran:
            families.gauge(
                "functional_pass_ratio",
                "Passed over run (not skipped) functional cases (0-1).",
                labels,
                sum(1 for outcome in ran if outcome) / len(ran),
            )


def _accuracy(families: _Families, base: dict[str, str], results: ScenarioResults) -> None:
    for row in results.accuracy:
        if row.score is None:
            continue
        labels = {**base, "dataset": row.dataset}
        if row.variant:
            labels["variant"] = row.variant
        families.gauge("accuracy_score", "Accuracy score of the dataset (0-1).", labels, row.score)


def _run(
    families: _Families,
    run: RunResults,
    results: ScenarioResults,
    base: dict[str, str],
    gates: dict[str, bool],
    now_s: float,
) -> None:
    info = {**base, **run_identity(run, results)}
    families.gauge(
        "run_info",
        "Identity and provenance of the run: run_id, commit, branch, versions (always 1).",
        {name: value for name, value in info.items() if value},
        1.0,
    )
    if scenario_succeeded(results):
        families.gauge(
            "last_success_timestamp_seconds",
            "When the scenario last finished with every expected stage's results (Unix time).",
            base,
            run.end_s if run.end_s is not None else now_s,
        )
    for gate, passed in gates.items():
        families.gauge(
            "gate_pass",
            "1 when the gate passed, 0 when it failed (absent: no data/baseline).",
            {**base, "gate": gate},
            1.0 if passed else 0.0,
        )


def build_registry(
    run: RunResults,
    verdicts: Sequence[Verdict],
    *,
    prefix: str,
    now_s: float,
    scenarios: Collection[str] | None = None,
) -> CollectorRegistry:
    """A fresh registry holding the metrics of `run` (only `scenarios` when given).

    :param verdicts: the gate verdicts of the run; they become `gate_pass{gate}`.
    :param prefix: `metric_prefix` from the settings; may be empty.
    :param now_s: the Unix time used for `last_success_timestamp_seconds` when the session
        file has no end time.
    """
    families = _Families(prefix)
    outcomes = gate_outcomes(list(verdicts))
    per_case = run.run_type == "daily"
    for results in run.scenarios:
        if scenarios is not None and results.scenario not in scenarios:
            continue
        base = scenario_labels(run, results)
        for point in results.perf:
            _perf_point(families, base, point)
        _capacity(families, base, results)
        _functional(families, base, results, per_case)
        _accuracy(families, base, results)
        gates = {
            gate: passed
            for (scenario, gate), passed in outcomes.items()
            if scenario == results.scenario
        }
        _run(families, run, results, base, gates, now_s)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StaticCollector(list(families.by_name.values())))
    return registry
