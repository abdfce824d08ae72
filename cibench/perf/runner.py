"""Run one load point end to end: build the workload, warm up, measure, scrape, write CSVs.

Everything that is not measurement (sizing prompts, encoding bodies, opening connections,
scraping `/metrics`) happens before the measured phase's clock starts or after it ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from cibench.artifacts import ScenarioWriter
from cibench.artifacts.rows import LoadPointParameters
from cibench.client.guard import GuardLimits, RequestGuard
from cibench.client.http1 import encode_request
from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest
from cibench.config.perf import LoadPoint, PerfProfile
from cibench.errors import CibenchError
from cibench.failures.logscan import LogMatch, LogWindow, format_matches, load_patterns
from cibench.failures.reasons import format_reasons, reason_counts
from cibench.monitor.sampler import ResourceSampler
from cibench.monitor.series import point_stats, summary_cells
from cibench.monitor.timeline import write_timeline
from cibench.perf import csvio
from cibench.perf.backends import execute
from cibench.perf.dataset import DatasetPrompt, load_dataset
from cibench.perf.health import Health, HealthLimits, assess
from cibench.perf.phase import Address, Conversation, Phase, Progress, SessionScript
from cibench.perf.probe import LagProbe
from cibench.perf.schedule import schedule_for, warmup_schedule
from cibench.perf.server_metrics import ServerMetrics, server_metrics
from cibench.perf.stats import (
    DEFAULT_PERCENTILES,
    LoadPointSummary,
    goodput,
    meets_slo,
    summarize,
    turn_ttft,
)
from cibench.perf.target import RunTarget
from cibench.perf.tokencount import PROBE_CALIBRATION_PROMPTS, open_counter
from cibench.perf.workers import execute_in_processes
from cibench.perf.workload import (
    SizedPrompt,
    build_prompts,
    build_shared_prefix_prompts,
    draw_lengths,
    measurement_seed,
    prefix_seeds,
    prompt_seed,
    request_body,
    unsized_prompts,
)
from cibench.runinfo import clock_anchor

__all__ = ["PointOutcome", "RunTarget", "run_point"]

DATASET = "random"
SIZING_WORKERS = 16
"""Prompts sized at once (concurrent `/tokenize` calls or usage probes) before the clock starts."""
Report = Callable[[str], None]

SIZING_REQUEST_SECONDS = 60.0
SCRAPE_TIMEOUT_SECONDS = 10.0


@dataclass(slots=True)
class PointOutcome:
    """What one load point produced and whether it can be trusted."""

    point: LoadPoint
    summary: LoadPointSummary
    server: ServerMetrics
    health: Health
    requests_csv: Path
    summary_csv: Path
    sizing: str
    notes: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    """Failed requests per reason class, most frequent first."""
    log_matches: list[LogMatch] = field(default_factory=list)
    """Known error lines the server logged during the load point."""
    resources: list[dict[str, float]] = field(default_factory=list)
    """The resource samples taken while the load point ran (docs/capacity.md)."""
    good_requests: int | None = None
    """Requests that met the profile's `goodput_slo` (None: no SLO)."""

    def problems(self, max_failure_ratio: float, min_good_ratio: float | None = None) -> list[str]:
        """Why this load point cannot be trusted: too many failed requests, too few meeting the
        goodput SLO, or the harness was the limit."""
        return self.failures(max_failure_ratio, min_good_ratio) + [
            f"harness bottleneck: {problem}" for problem in self.health.reasons
        ]

    def failures(self, max_failure_ratio: float, min_good_ratio: float | None = None) -> list[str]:
        """Why the server failed this load point: more failed requests than allowed, or too
        few meeting the goodput SLO (a harness-bound point is a property of the runner:
        reported, not failed)."""
        found: list[str] = []
        requests = self.summary.requests
        if min_good_ratio is not None and self.good_requests is not None and requests:
            good = self.good_requests / requests
            if good < min_good_ratio:
                found.append(
                    f"goodput: {self.good_requests}/{requests} requests ({good:.1%}) met the "
                    f"SLO, below min_good_ratio {min_good_ratio:.0%}"
                )
        ratio = self.summary.failure_ratio
        if ratio is None or ratio > max_failure_ratio:
            errors = ", ".join(f"{reason} x{n}" for reason, n in self.reasons.items())
            shown = "no requests" if ratio is None else f"{ratio:.1%}"
            found.append(
                f"failure ratio {shown} > {max_failure_ratio:.0%} "
                f"({self.summary.failures}/{self.summary.requests} failed: {errors or 'none'})"
            )
            found.extend(
                f"server log: {m.name} x{m.count}: {m.first_line}" for m in self.log_matches
            )
        return found


def _address(target: RunTarget, profile: PerfProfile) -> tuple[Address, str, str]:
    parts = urlsplit(target.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CibenchError(
            f"scenario '{target.scenario}': base URL {target.base_url!r} is not http(s)://host"
        )
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    api = "/v1/chat/completions" if profile.api == "chat" else "/v1/completions"
    net = Address(parts.hostname, port, profile.timeout_seconds, target.api_key, tls)
    return net, host_header, parts.path.rstrip("/") + api


def _prompts(
    target: RunTarget,
    profile: PerfProfile,
    seeds: list[str],
    heads: list[str],
    targets: list[int],
    notes: list[str],
) -> tuple[list[SizedPrompt], str]:
    """Size every prompt; when the server cannot be asked, fall back to unmeasured prompts."""
    headers = target.headers()
    # Sizing talks to the server before the clock starts: bound it as a whole (a hung or
    # dripping /tokenize must not stall the stage), from the profile's own timeout.
    limits = GuardLimits(
        request_seconds=min(SIZING_REQUEST_SECONDS, profile.timeout_seconds),
        stage_seconds=profile.timeout_seconds,
        consecutive_timeouts=2,
    )
    try:
        with httpx.Client(
            timeout=limits.request_seconds, headers=headers, transport=RequestGuard(limits)
        ) as client:
            counter = open_counter(
                client, target.base_url, target.model, profile.api, profile.sizing
            )
            exact = None if counter.method == "tokenize" else PROBE_CALIBRATION_PROMPTS
            tolerance = profile.input_tolerance
            if profile.prefix_count:
                prompts = build_shared_prefix_prompts(
                    seeds,
                    targets,
                    heads,
                    profile.prefix_length,
                    tolerance,
                    counter,
                    exact,
                    SIZING_WORKERS,
                )
            else:
                prompts = build_prompts(seeds, targets, tolerance, counter, exact, SIZING_WORKERS)
            return prompts, counter.method
    except (CibenchError, httpx.HTTPError, ValueError) as exc:
        notes.append(f"prompts not sized in tokens ({exc}); ~1.5 tokens per unit assumed")
    if not profile.prefix_count:
        return unsized_prompts(seeds, targets), "none"
    prefixes = unsized_prompts(heads, [profile.prefix_length] * profile.prefix_count)
    tails = unsized_prompts(seeds, [max(1, t - profile.prefix_length) for t in targets])
    return [
        SizedPrompt(prefixes[i % len(prefixes)].text + "\n" + tail.text, None, tail.units)
        for i, tail in enumerate(tails)
    ], "none"


def _dataset_rows(
    target: RunTarget, profile: PerfProfile, needed: int, seed: str
) -> list[DatasetPrompt]:
    """The dataset's prompts, length-filtered by the server's own count when it can tell."""
    spec = profile.dataset
    assert spec is not None
    bounded = spec.min_input_tokens is not None or spec.max_input_tokens is not None
    if not bounded:
        return load_dataset(spec, needed, seed, None)
    with httpx.Client(timeout=60.0, headers=target.headers()) as client:
        try:
            counter = open_counter(client, target.base_url, target.model, "completions", "auto")
        except (CibenchError, httpx.HTTPError, ValueError):
            return load_dataset(spec, needed, seed, None)
        return load_dataset(spec, needed, seed, counter)


def _scrape(base_url: str, headers: dict[str, str], timeout_s: float) -> str | None:
    try:
        response = httpx.get(f"{base_url}/metrics", headers=headers, timeout=timeout_s)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


@contextlib.contextmanager
def _monitor(progress: Progress, report: Report | None, every_s: float) -> Iterator[None]:
    """Report progress from a side thread every `every_s` seconds while the block runs."""
    if report is None:
        yield
        return
    stop = threading.Event()
    started = time.monotonic()

    def loop() -> None:
        while not stop.wait(every_s):
            report(
                f"{progress.phase}: {progress.done}/{progress.total} requests, "
                f"{progress.failed} failed, {time.monotonic() - started:.0f} s"
            )

    thread = threading.Thread(target=loop, name="cibench-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _phases(
    target: RunTarget, profile: PerfProfile, point: LoadPoint, salt: str, notes: list[str]
) -> tuple[Address, list[Phase], str, dict[tuple[int, int], int]]:
    """Size the prompts and encode every request (warmup first, then one phase per epoch)."""
    net, host_header, path = _address(target, profile)
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        **target.headers(),
    }
    turns = profile.session.turns if profile.session is not None else 1
    per_epoch = point.num_requests * turns  # a session point's request count: conversations
    seeds = [prompt_seed(profile, point, -1, i, salt) for i in range(profile.warmup)]
    lengths = draw_lengths(profile, point, "warmup", profile.warmup)
    for epoch in range(profile.epochs):
        seeds += [prompt_seed(profile, point, epoch, i, salt) for i in range(per_epoch)]
        lengths += draw_lengths(profile, point, str(epoch), per_epoch)
    rows: list[DatasetPrompt] | None = None
    if profile.dataset is not None:
        rows = _dataset_rows(target, profile, len(seeds), measurement_seed(profile, point, salt))
        prompts = [SizedPrompt(row.text, None, 0) for row in rows]
        lengths = [(i, row.output_tokens or o) for (i, o), row in zip(lengths, rows, strict=True)]
        sizing = "dataset"
    else:
        heads = prefix_seeds(profile, point, salt)
        prompts, sizing = _prompts(target, profile, seeds, heads, [i for i, _ in lengths], notes)

    def prepared(epoch: int, offset: int, count: int) -> list[PreparedRequest]:
        requests: list[PreparedRequest] = []
        for i in range(count):
            output = lengths[offset + i][1]
            turns = rows[offset + i].messages if rows is not None else None
            text = prompts[offset + i].text
            body = request_body(profile, point, target.model, text, output, turns)
            requests.append(
                PreparedRequest(
                    index=i,
                    payload=encode_request("POST", host_header, path, headers, body),
                    stream=profile.stream,
                    requested_output_tokens=output if profile.ignore_eos else None,
                    epoch=epoch,
                )
            )
        return requests

    def script(epoch: int, offset: int) -> SessionScript:
        spec = profile.session
        assert spec is not None

        def encode(messages: Sequence[dict[str, str]], output: int) -> bytes:
            body = request_body(profile, point, target.model, "", output, messages)
            return encode_request("POST", host_header, path, headers, body)

        conversations = [
            Conversation(
                tuple(p.text for p in prompts[start : start + turns]),
                tuple(o for _, o in lengths[start : start + turns]),
            )
            for start in range(offset, offset + per_epoch, turns)
        ]
        return SessionScript(
            conversations,
            turns,
            spec.think_time_s,
            encode,
            profile.stream,
            profile.ignore_eos,
            epoch,
        )

    phases: list[Phase] = []
    if profile.warmup:
        warmup = prepared(-1, 0, profile.warmup)
        phases.append(Phase(warmup, warmup_schedule(profile, point), f"{point.id} warmup"))
    for epoch in range(profile.epochs):
        offset = profile.warmup + epoch * per_epoch
        label = f"{point.id} epoch {epoch + 1}/{profile.epochs}"
        schedule = schedule_for(profile, point, epoch)
        if profile.session is None:
            phases.append(Phase(prepared(epoch, offset, per_epoch), schedule, label))
        else:
            phases.append(Phase((), schedule, label, script(epoch, offset)))
    # only a session's first turns are sized prompts; later turns carry the history too
    input_targets = {
        (epoch, i): lengths[profile.warmup + epoch * per_epoch + i][0]
        for epoch in range(profile.epochs)
        for i in range(0, per_epoch, turns)
    }
    return net, phases, sizing, input_targets


def run_point(
    target: RunTarget,
    profile: PerfProfile,
    point: LoadPoint,
    writer: ScenarioWriter,
    report: Report | None = None,
    report_every_s: float = 5.0,
    salt: str = "",
) -> PointOutcome:
    """Measure `point` against `target`; record its summary row and requests with `writer`.

    :param report: receives a progress line every `report_every_s` seconds while requests run.
    :param salt: names a repeated measurement of this point on the same server (a
        confirmation, a soak window, a search probe): prompts differ per salt, so that the
        server's prefix cache cannot make a repeat faster (`prompt_seed`).
    """
    notes: list[str] = []
    net, phases, sizing, input_targets = _phases(target, profile, point, salt, notes)
    first_measured = 1 if profile.warmup else 0
    auth = target.headers()
    scrapes: dict[str, str | None] = {}

    scrape_timeout = min(SCRAPE_TIMEOUT_SECONDS, profile.timeout_seconds)

    def before(position: int) -> None:
        if position == first_measured:
            scrapes["before"] = _scrape(target.base_url, auth, scrape_timeout)

    window = _log_window(target)
    progress = Progress()
    sampler = _sampler(target, profile, auth)
    probe = LagProbe()
    with _monitor(progress, report, report_every_s), sampler or contextlib.nullcontext():
        if profile.workers > 1:
            results, probe = _in_processes(profile, net, phases, first_measured, scrapes, before)
        else:
            results = execute(profile.backend, net, phases, progress, before, probe)
    scrapes["after"] = _scrape(target.base_url, auth, scrape_timeout)
    records: list[RequestRecord] = [r for phase in results[first_measured:] for r in phase]
    exit_status = target.process.exit_status() if target.process else None
    log_matches = window.scan() if window else []
    if exit_status is not None:
        log_matches.append(LogMatch("server_exit", 1, f"server {exit_status}"))
        notes.append(f"the server {exit_status} during this load point")
    reasons = reason_counts(records, server_exited=exit_status is not None)

    slo_percentiles = profile.slo.percentiles() if profile.slo else []
    percentiles = sorted({*DEFAULT_PERCENTILES, *profile.percentiles, *slo_percentiles})
    summary = summarize(records, percentiles, point.request_rate)
    server = server_metrics(scrapes.get("before"), scrapes.get("after"), len(records))
    health = _health(profile, point, phases[first_measured:], records, probe)
    if summary.token_mismatch:
        notes.append(
            f"{summary.token_mismatch} responses had completion_tokens != the requested length"
        )
    params = _parameters(target, profile, point)
    origin = min((r.scheduled_ns for r in records), default=0)
    row = csvio.summary_row(
        params,
        summary,
        server,
        health,
        percentiles,
        execution_time=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    # cibench's own columns go after every acs-bench column (docs/capacity.md)
    extra: dict[str, object] = {
        "failure_reasons": format_reasons(reasons),
        "server_log_matches": format_matches(log_matches),
    }
    samples = [values for _, values in sampler.timeline.samples] if sampler else []
    if sampler is not None:
        extra["resources"] = summary_cells(point_stats(samples))
        extra["monitor_samples"] = len(samples)
        extra["monitor_notes"] = "; ".join(sampler.timeline.notes)
    sizing_cells = _sizing_cells(sizing, records, input_targets)
    good = _good_requests(profile, records)
    if good is not None and profile.goodput_slo is not None:
        extra.update(
            goodput=goodput(good, summary.duration_s),
            good_requests=good,
            goodput_slo=profile.goodput_slo.describe(),
        )
    session_cells = _session_cells(profile, records, percentiles)
    row = row.model_copy(update={**extra, **sizing_cells, **session_cells})
    request_rows = csvio.request_rows(
        records, origin, params, server_exited=exit_status is not None, anchor=clock_anchor()
    )
    files = writer.record_load_point(row, request_rows)
    if sampler is not None:
        name = "resources" + files.requests_csv.name.removeprefix("requests")
        write_timeline(files.requests_csv.with_name(name), sampler.timeline)
    return PointOutcome(
        point,
        summary,
        server,
        health,
        files.requests_csv,
        files.summary_csv,
        sizing,
        notes,
        reasons,
        log_matches,
        samples,
        good,
    )


def _sampler(
    target: RunTarget, profile: PerfProfile, headers: dict[str, str]
) -> ResourceSampler | None:
    """Resource sampling for this load point, unless the profile turned it off."""
    if profile.monitor_interval_seconds <= 0:
        return None
    pid = target.process.pid if target.process else None
    return ResourceSampler(profile.monitor_interval_seconds, pid, target.base_url, headers)


def _log_window(target: RunTarget) -> LogWindow | None:
    """Where the server's output for this load point will start (None: nothing to watch)."""
    if target.process is None:
        return None
    patterns = list(target.log_patterns) or load_patterns()
    window = LogWindow(target.process.log_path, patterns=patterns)
    window.mark()
    return window


def _in_processes(
    profile: PerfProfile,
    net: Address,
    phases: list[Phase],
    first_measured: int,
    scrapes: dict[str, str | None],
    before: Callable[[int], None],
) -> tuple[list[list[RequestRecord]], LagProbe]:
    """`workers` > 1: warm up here, then send the measured phases from that many processes."""
    results = execute(profile.backend, net, phases[:first_measured]) if first_measured else []
    before(first_measured)
    measured, probe = execute_in_processes(
        profile.backend, net, phases[first_measured:], profile.workers, profile.timeout_seconds
    )
    return results + measured, probe


def _parameters(target: RunTarget, profile: PerfProfile, point: LoadPoint) -> LoadPointParameters:
    return LoadPointParameters(
        scenario=target.scenario,
        model=target.model,
        provider=target.provider,
        dataset=Path(profile.dataset.path).stem if profile.dataset else DATASET,
        input_length=point.input_length,
        output_length=point.output_length,
        concurrency=point.concurrency,
        request_rate=point.request_rate,
        backend=profile.backend,
        temperature=profile.temperature,
        top_k=profile.top_k,
        top_p=profile.top_p,
        control_method=profile.control_method,
        growth_rate=profile.growth_rate,
        rounds=profile.epochs,
        num_prompts=point.num_requests,
    )


def _sizing_cells(
    method: str, records: list[RequestRecord], targets: dict[tuple[int, int], int]
) -> dict[str, object]:
    """How prompts were sized, and how far the server's `usage.prompt_tokens` landed from
    each request's target (mean signed, max absolute; -1 without usage)."""
    errors = [
        r.prompt_tokens - targets[(r.epoch, r.index)]
        for r in records
        if r.prompt_tokens is not None and (r.epoch, r.index) in targets and method != "dataset"
    ]
    return {
        "sizing_method": method,
        "prompt_token_error_avg": sum(errors) / len(errors) if errors else None,
        "prompt_token_error_max": max(abs(e) for e in errors) if errors else None,
    }


def _session_cells(
    profile: PerfProfile, records: list[RequestRecord], percentiles: list[float]
) -> dict[str, object]:
    """Multi-turn sessions: turns per conversation, first-turn vs later-turn TTFT."""
    turns = turn_ttft(records, percentiles)
    if profile.session is None or turns is None:
        return {}
    first, later = turns.first, turns.later
    return {
        "session_turns": profile.session.turns,
        "first_turn_ttft_p50_s": first.at(50.0) if first else None,
        "first_turn_ttft_p99_s": first.at(99.0) if first else None,
        "later_turn_ttft_p50_s": later.at(50.0) if later else None,
        "later_turn_ttft_p99_s": later.at(99.0) if later else None,
        "later_turn_prompt_tokens": turns.later_prompt_tokens,
    }


def _good_requests(profile: PerfProfile, records: list[RequestRecord]) -> int | None:
    slo = profile.goodput_slo
    if slo is None:
        return None
    return sum(1 for r in records if meets_slo(r, slo.ttft_s, slo.tpot_s, slo.e2e_s))


def _health(
    profile: PerfProfile,
    point: LoadPoint,
    measured: list[Phase],
    records: list[RequestRecord],
    probe: LagProbe,
) -> Health:
    """The harness-health verdict over the measured phases (probe samples inside them only)."""
    lags: list[float] = []
    if records:
        lags = probe.lags_s(min(r.scheduled_ns for r in records), max(r.end_ns for r in records))
    spans = {
        epoch: phase.schedule.arrival_offsets[-1]
        for epoch, phase in enumerate(measured)
        if phase.schedule.open_loop
    }
    limits = HealthLimits(
        max_send_lag_s=profile.max_send_lag_ms / 1e3,
        max_receive_lag_s=profile.max_receive_lag_ms / 1e3,
        rate_tolerance=profile.rate_tolerance,
        completion_tolerance=profile.completion_tolerance,
    )
    paced = [r for r in records if not r.turn]  # a session's later turns follow its answers
    return assess(records, lags, limits, spans, point.request_rate, paced)
