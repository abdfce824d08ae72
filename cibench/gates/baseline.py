"""Load a regression baseline: a Pushgateway's daily group or a previous daily run's artifacts.

`--baseline SRC` forms: `http(s)://host:port` (a Pushgateway, read over `/api/v1/metrics`),
`pushgateway` (the configured `pushgateway_url`), or a path: one run directory
(`artifacts/<run_id>/`) or an artifacts root, where the newest daily run holding the scenario
wins. An unreachable or unreadable source raises `BaselineMissing`; a source without a matching
scenario or load point simply has no points for it (the gates say `no baseline`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from cibench.artifacts import (
    CapacityKey,
    LoadPointKey,
    PerfSummaryRow,
    RunReader,
    RunResults,
    metric_name,
    read_run,
)
from cibench.client.credentials import BasicAuth, redact_url, split_credentials
from cibench.config.capacity import LOAD_AXES
from cibench.errors import BaselineMissing, BaselineUnreadable, CibenchError
from cibench.gates.interval import as_floats, robust_spread
from cibench.gates.rules import REGRESSION_GATES, Baseline, BaselinePoint, baseline_point
from cibench.gates.samples import interleaved_samples, load_run_samples
from cibench.urls import redact_userinfo, url_problem

PUSHGATEWAY_KEYWORD = "pushgateway"
Group = tuple[dict[tuple[str, LoadPointKey], BaselinePoint], dict[tuple[str, CapacityKey], float]]
"""What one Pushgateway group gives a baseline: load points and SLO-search answers."""
DEFAULT_TIMEOUT_S = 10.0


def is_url(source: str) -> bool:
    """Whether a baseline source names an HTTP endpoint rather than a directory."""
    return source.startswith(("http://", "https://"))


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _key(labels: Mapping[str, str]) -> LoadPointKey:
    return LoadPointKey(
        control_method=labels.get("control_method", ""),
        backend=labels.get("backend", ""),
        concurrency=labels.get("concurrency", ""),
        input_len=labels.get("input_len", ""),
        output_len=labels.get("output_len", ""),
        growth_rate=labels.get("growth_rate", ""),
        request_rate=labels.get("request_rate", ""),
    )


def _push_time(group: Mapping[str, Any]) -> float:
    family = group.get("push_time_seconds") or {}
    for metric in family.get("metrics") or []:
        value = _number(metric.get("value"))
        if value is not None:
            return value
    return 0.0


def _daily_metrics(family: Any) -> list[Mapping[str, Any]]:
    if not isinstance(family, Mapping):
        return []
    metrics = family.get("metrics") or []
    return [
        metric
        for metric in metrics
        if isinstance(metric, Mapping) and (metric.get("labels") or {}).get("run_type") == "daily"
    ]


def _group_points(
    group: Mapping[str, Any], scenario: str, prefix: str
) -> dict[tuple[str, LoadPointKey], BaselinePoint]:
    values: dict[LoadPointKey, dict[str, float | None]] = {}
    for metric in _daily_metrics(group.get(f"{prefix}ttft_seconds")):
        quantiles = metric.get("quantiles") or {}
        point = values.setdefault(_key(metric["labels"]), {})
        point["ttft"] = _number(quantiles.get("0.99"))
    for metric in _daily_metrics(group.get(f"{prefix}e2e_seconds")):
        quantiles = metric.get("quantiles") or {}
        point = values.setdefault(_key(metric["labels"]), {})
        point["e2e"] = _number(quantiles.get("0.99"))
    for metric in _daily_metrics(group.get(f"{prefix}requests_per_second")):
        point = values.setdefault(_key(metric["labels"]), {})
        point["qps"] = _number(metric.get("value"))
    return {
        (scenario, key): BaselinePoint(
            ttft_p99_s=found.get("ttft"), e2e_p99_s=found.get("e2e"), qps=found.get("qps")
        )
        for key, found in values.items()
    }


def _group_capacity(
    group: Mapping[str, Any], scenario: str, prefix: str
) -> dict[tuple[str, CapacityKey], float]:
    found: dict[tuple[str, CapacityKey], float] = {}
    for over in LOAD_AXES:
        for metric in _daily_metrics(group.get(prefix + metric_name(over))):
            labels = metric["labels"]
            value = _number(metric.get("value"))
            if value is None:
                continue
            key = CapacityKey(
                search_over=over,
                backend=labels.get("backend", ""),
                input_len=labels.get("input_len", ""),
                output_len=labels.get("output_len", ""),
                slo_hash=labels.get("slo_hash", ""),
            )
            found[(scenario, key)] = value
    return found


def parse_pushgateway(
    payload: Any, *, url: str, scenarios: Collection[str], prefix: str, job: str
) -> Baseline:
    """A baseline from the JSON of a Pushgateway's `GET /api/v1/metrics` (pure).

    For each scenario, the group `job` + `scenario` with the newest push time and daily metrics
    wins (several `instance` values may hold one: different daily runners).
    """
    groups = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(groups, list):
        raise BaselineMissing(
            f"Pushgateway {redact_url(url)}: /api/v1/metrics did not return "
            '{"data": [...]}; is this a Pushgateway (version >= 1.0)?'
        )
    chosen: dict[str, tuple[float, str, Group]] = {}
    for group in groups:
        if not isinstance(group, Mapping):
            continue
        labels = group.get("labels") or {}
        scenario = labels.get("scenario")
        if labels.get("job") != job or not isinstance(scenario, str) or scenario not in scenarios:
            continue
        points = _group_points(group, scenario, prefix)
        capacity = _group_capacity(group, scenario, prefix)
        if not points and not capacity:
            continue
        pushed = _push_time(group)
        if scenario not in chosen or pushed > chosen[scenario][0]:
            chosen[scenario] = (pushed, labels.get("instance", ""), (points, capacity))
    baseline = Baseline(source=f"pushgateway {redact_url(url)}")
    described = []
    for scenario, (pushed, instance, (points, capacity)) in sorted(chosen.items()):
        baseline.points.update(points)
        baseline.capacity.update(capacity)
        when = datetime.fromtimestamp(pushed, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        described.append(f"{scenario}@{instance or '-'} pushed {when}")
    if described:
        baseline.source += " (" + "; ".join(described) + ")"
    return baseline


def from_pushgateway(
    url: str,
    *,
    scenarios: Collection[str],
    prefix: str,
    job: str,
    auth: BasicAuth | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Baseline:
    """Read the daily groups of `job` back from a Pushgateway's HTTP API."""
    url, url_auth = split_credentials(url)
    auth = auth or url_auth
    base = url if "://" in url else f"http://{url}"
    endpoint = base.rstrip("/") + "/api/v1/metrics"
    try:
        response = httpx.get(
            endpoint,
            auth=(auth.username, auth.password) if auth else None,
            timeout=timeout_s,
        )
        response.raise_for_status()
        payload = response.json()
    except httpx.HTTPStatusError as exc:
        raise BaselineMissing(
            f"Pushgateway {redact_url(url)}: GET /api/v1/metrics answered "
            f"{exc.response.status_code}. Check the URL and the basic-auth env vars."
        ) from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise BaselineMissing(
            f"Pushgateway {redact_url(url)}: cannot read /api/v1/metrics "
            f"({type(exc).__name__}: {exc}). Is it running and reachable from here?"
        ) from exc
    return parse_pushgateway(payload, url=url, scenarios=scenarios, prefix=prefix, job=job)


def baseline_from_run(
    run: RunResults, scenarios: Collection[str]
) -> dict[tuple[str, LoadPointKey], BaselinePoint]:
    """The baseline points (with per-request records) one run provides for `scenarios`."""
    samples = load_run_samples(run)
    return {
        (results.scenario, point.key): baseline_point(
            point, samples.get((results.scenario, point.key))
        )
        for results in run.scenarios
        if results.scenario in scenarios
        for point in results.perf
    }


def functional_passed_in_run(
    run: RunResults, scenarios: Collection[str]
) -> dict[str, frozenset[str]]:
    """Per scenario of `scenarios` with functional results: its passed `suite::case_id`s."""
    return {
        results.scenario: frozenset(
            f"{case.suite}::{case.case_id}"
            for case in results.functional
            if not case.failed and not case.skipped
        )
        for results in run.scenarios
        if results.scenario in scenarios and results.functional
    }


def capacity_from_run(
    run: RunResults, scenarios: Collection[str]
) -> dict[tuple[str, CapacityKey], float]:
    """The SLO-search answers one run provides for `scenarios` (searches without one left out)."""
    return {
        (results.scenario, found.key): found.capacity
        for results in run.scenarios
        if results.scenario in scenarios
        for found in results.capacity
        if found.capacity is not None
    }


def with_history(
    points: dict[tuple[str, LoadPointKey], BaselinePoint],
    history: Sequence[RunResults],
) -> dict[tuple[str, LoadPointKey], BaselinePoint]:
    """Attach each regression gate's robust day-to-day spread over `history` (newest first, the
    baseline run included) to the points; a point seen in fewer than three runs gets none."""
    series: dict[tuple[str, LoadPointKey], dict[str, list[float]]] = {}
    runs: dict[tuple[str, LoadPointKey], int] = {}
    for run in history:
        for results in run.scenarios:
            for point in results.perf:
                where = (results.scenario, point.key)
                if where not in points:
                    continue
                runs[where] = runs.get(where, 0) + 1
                row = baseline_point(point)
                for spec in REGRESSION_GATES:
                    value = row.value(spec.gate)
                    if value is not None:
                        series.setdefault(where, {}).setdefault(spec.gate, []).append(value)
    out = dict(points)
    for where, by_gate in series.items():
        spread = {
            gate: found
            for gate, values in by_gate.items()
            if (found := robust_spread(as_floats(values))) is not None
        }
        if spread:
            out[where] = replace(out[where], spread=spread, history_runs=runs[where])
    return out


def remeasured_point(base: BaselinePoint, perf_dir: Path, point: PerfSummaryRow) -> BaselinePoint:
    """`base` with its figures replaced by the baseline scenario's blocks of an interleaved
    confirmation of `point` (P99s from their records, QPS the mean of the blocks'), or `base`
    itself when there was none; its history spread stays."""
    interleaved = interleaved_samples(perf_dir, point)
    if interleaved is None:
        return base
    blocks = interleaved[1]

    def p99(values: np.ndarray) -> float | None:
        return float(np.percentile(values, 99)) if values.size else None

    return replace(
        base,
        ttft_p99_s=p99(blocks.ttft_s),
        e2e_p99_s=p99(blocks.e2e_s),
        qps=sum(blocks.confirm_qps) / len(blocks.confirm_qps) if blocks.confirm_qps else None,
        samples=blocks,
    )


def with_remeasured_baseline(baseline: Baseline | None, run: RunResults) -> Baseline | None:
    """The baseline with every point that `run`'s confirm step measured on the baseline
    scenario (`gates.confirm.baseline_scenario`) replaced by those blocks."""
    if baseline is None:
        return None
    points = dict(baseline.points)
    for results in run.scenarios:
        perf_dir = run.run_dir / results.scenario / "perf"
        for point in results.perf:
            where = (results.scenario, point.key)
            if where in points:
                points[where] = remeasured_point(points[where], perf_dir, point)
    return replace(baseline, points=points)


def _run_time(run_dir: Path) -> float:
    session = RunReader(run_dir).session()
    for value in (session.end_s, session.start_s):
        if value is not None:
            return value
    return run_dir.stat().st_mtime


def from_artifacts(
    path: Path,
    *,
    scenarios: Collection[str],
    exclude: Path | None = None,
    history_runs: int = 1,
) -> Baseline:
    """A baseline from one run directory, or from the newest daily runs under an artifacts root
    (whose newest `history_runs` dailies give each gate's day-to-day spread)."""
    if not path.exists():
        raise BaselineUnreadable(
            f"baseline {path}: no such directory. Pass a previous daily run's artifacts "
            "directory (artifacts/<run_id>/) or the artifacts root that holds such runs."
        )
    try:
        if (path / "session.json").exists():
            run = read_run(path)
            return Baseline(
                source=f"artifacts {path}",
                points=baseline_from_run(run, scenarios),
                functional_passed=functional_passed_in_run(run, scenarios),
                capacity=capacity_from_run(run, scenarios),
            )
        candidates = []
        for child in path.iterdir():
            if not (child / "session.json").exists():
                continue
            if exclude is not None and child.resolve() == exclude.resolve():
                continue
            try:
                if RunReader(child).session().run_type != "daily":
                    continue
                candidates.append((_run_time(child), child))
            except CibenchError:
                continue  # one broken run under the root must not hide the others
    except (OSError, CibenchError) as exc:
        raise BaselineUnreadable(f"baseline {path}: cannot read ({exc}).") from exc
    baseline = Baseline(source=f"artifacts {path} (no daily run found)")
    used: list[str] = []
    remaining = set(scenarios)
    history: list[RunResults] = []
    for _, child in sorted(candidates, reverse=True):
        if (
            not remaining
            and baseline.functional_passed.keys() >= set(scenarios)
            and len(history) >= history_runs
        ):
            break
        try:
            run = read_run(child)
        except CibenchError:
            continue
        history.append(run)
        for scenario, passed in functional_passed_in_run(run, scenarios).items():
            baseline.functional_passed.setdefault(scenario, passed)
        points = baseline_from_run(run, remaining) if remaining else {}
        capacity = capacity_from_run(run, remaining) if remaining else {}
        if points or capacity:
            baseline.points.update(points)
            baseline.capacity.update(capacity)
            found = {scenario for scenario, _ in points} | {scenario for scenario, _ in capacity}
            remaining -= found
            used.append(f"{child.name} for {', '.join(sorted(found))}")
    baseline.points = with_history(baseline.points, history[:history_runs])
    if used:
        baseline.source = f"artifacts {path} ({'; '.join(used)})"
    return baseline


def load_baseline(
    source: str,
    *,
    scenarios: Collection[str],
    prefix: str,
    job: str,
    pushgateway_url: str | None = None,
    auth: BasicAuth | None = None,
    exclude: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    history_runs: int = 1,
) -> Baseline:
    """Resolve `source` (URL, `pushgateway` or a path) and load the baseline it names
    (`history_runs`: dailies of an artifacts root whose spread may widen the margins)."""
    if source == PUSHGATEWAY_KEYWORD:
        if not pushgateway_url:
            raise BaselineMissing(
                "baseline 'pushgateway': no Pushgateway URL is configured. Set "
                "pushgateway_url in configs/settings.yaml or pass --pushgateway URL."
            )
        source = pushgateway_url
    if is_url(source):
        problem = url_problem(source)
        if problem is not None:
            raise BaselineUnreadable(
                f"baseline {redact_userinfo(source)}: {problem}. Pass a Pushgateway URL such "
                "as http://HOST:9091, `pushgateway`, or a run directory."
            )
        return from_pushgateway(
            source, scenarios=scenarios, prefix=prefix, job=job, auth=auth, timeout_s=timeout_s
        )
    return from_artifacts(
        Path(source), scenarios=scenarios, exclude=exclude, history_runs=history_runs
    )
