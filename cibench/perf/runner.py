"""Run one load point end to end: build the workload, warm up, measure, scrape, write CSVs.

Everything that is not measurement (sizing prompts, encoding bodies, opening connections,
scraping `/metrics`) happens before the measured phase's clock starts or after it ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from cibench.artifacts import ScenarioWriter
from cibench.artifacts.rows import LoadPointParameters
from cibench.client.endpoint import auth_headers
from cibench.client.http1 import encode_request
from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest
from cibench.config.perf import LoadPoint, PerfProfile
from cibench.errors import CibenchError
from cibench.perf import csvio
from cibench.perf.backends import execute
from cibench.perf.phase import Phase, Progress, Target
from cibench.perf.schedule import schedule_for, warmup_schedule
from cibench.perf.server_metrics import ServerMetrics, server_metrics
from cibench.perf.stats import DEFAULT_PERCENTILES, LoadPointSummary, harness_problems, summarize
from cibench.perf.tokencount import PROBE_EXACT_PROMPTS, open_counter
from cibench.perf.workload import (
    SizedPrompt,
    build_prompts,
    prompt_seed,
    request_body,
    unsized_prompts,
)

__all__ = ["PointOutcome", "RunTarget", "run_point"]

DATASET = "random"
Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunTarget:
    """The server under load: base URL without `/v1`, model name, key, and file-name labels."""

    base_url: str
    model: str
    provider: str
    scenario: str
    api_key: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class PointOutcome:
    """What one load point produced and whether it can be trusted."""

    point: LoadPoint
    summary: LoadPointSummary
    server: ServerMetrics
    harness: list[str]
    requests_csv: Path
    summary_csv: Path
    sizing: str
    notes: list[str] = field(default_factory=list)

    def problems(self, max_failure_ratio: float) -> list[str]:
        """Why this load point cannot be trusted: too many failed requests, or the harness was
        the limit."""
        return self.failures(max_failure_ratio) + [
            f"harness bottleneck: {problem}" for problem in self.harness
        ]

    def failures(self, max_failure_ratio: float) -> list[str]:
        """Why the server failed this load point: more failed requests than allowed (a
        harness-bound point is a property of the runner: reported, not failed)."""
        found: list[str] = []
        ratio = self.summary.failure_ratio
        if ratio is None or ratio > max_failure_ratio:
            errors = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.summary.errors.items()))
            shown = "no requests" if ratio is None else f"{ratio:.1%}"
            found.append(
                f"failure ratio {shown} > {max_failure_ratio:.0%} "
                f"({self.summary.failures}/{self.summary.requests} failed: {errors or 'none'})"
            )
        return found


def _target(target: RunTarget, profile: PerfProfile) -> tuple[Target, str, str]:
    parts = urlsplit(target.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CibenchError(
            f"scenario '{target.scenario}': base URL {target.base_url!r} is not http(s)://host"
        )
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    api = "/v1/chat/completions" if profile.api == "chat" else "/v1/completions"
    net = Target(parts.hostname, port, profile.timeout_seconds, target.api_key, tls)
    return net, host_header, parts.path.rstrip("/") + api


def _prompts(
    target: RunTarget, profile: PerfProfile, point: LoadPoint, seeds: list[str], notes: list[str]
) -> tuple[list[SizedPrompt], str]:
    """Size every prompt; when the server cannot be asked, fall back to unmeasured prompts."""
    headers = auth_headers(target.api_key)
    try:
        with httpx.Client(timeout=60.0, headers=headers) as client:
            counter = open_counter(
                client, target.base_url, target.model, profile.api, profile.sizing
            )
            exact = None if counter.method == "tokenize" else PROBE_EXACT_PROMPTS
            prompts = build_prompts(
                seeds, point.input_length, profile.input_tolerance, counter, exact
            )
            return prompts, counter.method
    except (CibenchError, httpx.HTTPError, ValueError) as exc:
        notes.append(f"prompts not sized in tokens ({exc}); ~1.5 tokens per unit assumed")
    return unsized_prompts(seeds, point.input_length), "none"


def _scrape(base_url: str, headers: dict[str, str]) -> str | None:
    try:
        response = httpx.get(f"{base_url}/metrics", headers=headers, timeout=10.0)
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
    target: RunTarget, profile: PerfProfile, point: LoadPoint, notes: list[str]
) -> tuple[Target, list[Phase], str]:
    """Size the prompts and encode every request (warmup first, then one phase per epoch)."""
    net, host_header, path = _target(target, profile)
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        **auth_headers(target.api_key),
    }
    seeds = [prompt_seed(profile, point, -1, i) for i in range(profile.warmup)]
    for epoch in range(profile.epochs):
        seeds += [prompt_seed(profile, point, epoch, i) for i in range(point.num_requests)]
    prompts, sizing = _prompts(target, profile, point, seeds, notes)
    expected = point.output_length if profile.ignore_eos else None

    def prepared(epoch: int, offset: int, count: int) -> list[PreparedRequest]:
        return [
            PreparedRequest(
                index=i,
                payload=encode_request(
                    "POST",
                    host_header,
                    path,
                    headers,
                    request_body(profile, point, target.model, prompts[offset + i].text),
                ),
                stream=profile.stream,
                requested_output_tokens=expected,
                epoch=epoch,
            )
            for i in range(count)
        ]

    phases: list[Phase] = []
    if profile.warmup:
        warmup = prepared(-1, 0, profile.warmup)
        phases.append(Phase(warmup, warmup_schedule(profile, point), f"{point.id} warmup"))
    for epoch in range(profile.epochs):
        requests = prepared(epoch, profile.warmup + epoch * point.num_requests, point.num_requests)
        label = f"{point.id} epoch {epoch + 1}/{profile.epochs}"
        phases.append(Phase(requests, schedule_for(profile, point, epoch), label))
    return net, phases, sizing


def run_point(
    target: RunTarget,
    profile: PerfProfile,
    point: LoadPoint,
    writer: ScenarioWriter,
    report: Report | None = None,
    report_every_s: float = 5.0,
) -> PointOutcome:
    """Measure `point` against `target`; record its summary row and requests with `writer`.

    :param report: receives a progress line every `report_every_s` seconds while requests run.
    """
    notes: list[str] = []
    net, phases, sizing = _phases(target, profile, point, notes)
    first_measured = 1 if profile.warmup else 0
    auth = auth_headers(target.api_key)
    scrapes: dict[str, str | None] = {}

    def before(position: int) -> None:
        if position == first_measured:
            scrapes["before"] = _scrape(target.base_url, auth)

    progress = Progress()
    with _monitor(progress, report, report_every_s):
        results = execute(profile.backend, net, phases, progress, before)
    scrapes["after"] = _scrape(target.base_url, auth)
    records: list[RequestRecord] = [r for phase in results[first_measured:] for r in phase]

    percentiles = sorted({*DEFAULT_PERCENTILES, *profile.percentiles})
    summary = summarize(records, percentiles, point.request_rate)
    server = server_metrics(scrapes.get("before"), scrapes.get("after"), len(records))
    harness = harness_problems(summary, profile.max_send_lag_ms / 1e3, profile.rate_tolerance)
    if summary.token_mismatch:
        notes.append(
            f"{summary.token_mismatch} responses had completion_tokens != {point.output_length}"
        )
    params = _parameters(target, profile, point)
    origin = min((r.scheduled_ns for r in records), default=0)
    row = csvio.summary_row(
        params,
        summary,
        server,
        bool(harness),
        percentiles,
        execution_time=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    files = writer.record_load_point(row, csvio.request_rows(records, origin, params))
    return PointOutcome(
        point, summary, server, harness, files.requests_csv, files.summary_csv, sizing, notes
    )


def _parameters(target: RunTarget, profile: PerfProfile, point: LoadPoint) -> LoadPointParameters:
    return LoadPointParameters(
        scenario=target.scenario,
        model=target.model,
        provider=target.provider,
        dataset=DATASET,
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
