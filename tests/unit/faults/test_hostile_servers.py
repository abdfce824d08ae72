"""cibench against servers that misbehave on purpose: every wait ends, and refusals are errors.

Each server is a `HostileServer` on 127.0.0.1; timeouts are a second or two so the whole file
stays quick. Bounds are generous (a loaded CI machine is slow), orderings exact.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from hostile_server import Act, HostileServer, Request, answer, models

from cibench.accuracy.runner import run_profile
from cibench.accuracy.sampler import ChatSampler, SamplerConfig
from cibench.artifacts import ScenarioWriter
from cibench.client.guard import (
    GuardLimits,
    GuardState,
    RequestGuard,
    ServerRefused,
    retry_after_seconds,
)
from cibench.config.accuracy import AccuracyProfile
from cibench.config.perf import PerfProfile
from cibench.config.scenario import Scenario
from cibench.errors import AuthError
from cibench.functional.capabilities import probe
from cibench.functional.probes import ProbeRefused, ScenarioProbes
from cibench.functional.schemas import SchemaSet
from cibench.launch.base import Endpoint
from cibench.launch.external import ExternalLauncher, discover_model
from cibench.launch.health import wait_healthy
from cibench.perf.runner import RunTarget, run_point

DATASET = Path(__file__).resolve().parents[3] / "configs" / "datasets" / "gpqa_synthetic.csv"
SCHEMAS = SchemaSet.load()


def health_ok_else(act: Act):  # type: ignore[no-untyped-def]
    """/health answers 200 and /v1/models lists `m`; every other request gets `act`."""

    def behave(request: Request) -> Act:
        if request.path == "/health":
            return answer(200)
        if request.path == "/v1/models":
            return models("m")
        return act

    return behave


# ---- health wait: a total deadline, whatever the server does --------------------------------


@pytest.mark.parametrize("how", ["drip", "hang", "garbage", "reset"])
def test_health_wait_ends_at_its_deadline_whatever_the_server_does(how: str) -> None:
    with HostileServer(lambda _: Act(how=how)) as server:  # type: ignore[arg-type]
        started = time.monotonic()
        result = wait_healthy(server.url, 1.5, request_timeout=0.5, progress=None)
        waited = time.monotonic() - started
    assert not result.healthy
    assert waited < 6.0, f"{how}: waited {waited:.1f} s for a 1.5 s deadline"
    assert result.last_observation != "200"


def test_health_wait_reports_progress_while_it_waits() -> None:
    lines: list[str] = []
    with HostileServer(lambda _: Act(how="hang")) as server:
        wait_healthy(
            server.url, 1.2, request_timeout=0.3, progress=lines.append, progress_every=0.3
        )
    assert lines, "no progress line during a 1.2 s wait"
    assert all(f"{server.url}/health" in line and "of 1.2 s" in line for line in lines)


def test_health_wait_stops_at_once_on_401_and_names_the_key() -> None:
    with HostileServer(lambda _: answer(401, {"error": "no key"})) as server:
        scenario = Scenario(id="ext", mode="external", model="m", base_url=server.url)
        started = time.monotonic()
        with pytest.raises(AuthError, match="wants an API key"):
            ExternalLauncher(scenario).start()
    assert time.monotonic() - started < 5.0  # not the 60 s startup timeout


# ---- model discovery: a 401 is an auth error, not "no model" --------------------------------


def test_model_discovery_reports_401_as_an_auth_error() -> None:
    with HostileServer(health_ok_else(answer(401))) as server:
        server.behave = lambda _: answer(401, {"error": "Unauthorized"})
        with pytest.raises(AuthError) as caught:
            discover_model(server.url, "ext", "wrong-key-123")
    assert "refuses the API key" in str(caught.value)
    assert "lists no model" not in str(caught.value)
    assert "wrong-key-123" not in str(caught.value)


# ---- the request guard: bounded requests, refusals reported ---------------------------------


def guarded(url: str, limits: GuardLimits, sleeps: list[float] | None = None) -> httpx.Client:
    record = sleeps.append if sleeps is not None else time.sleep
    guard = RequestGuard(limits, sleep=record)
    return httpx.Client(base_url=url, transport=guard, timeout=limits.request_seconds)


@pytest.mark.parametrize("status", [401, 403])
def test_guard_turns_401_and_403_into_refusals(status: int) -> None:
    with HostileServer(lambda _: answer(status)) as server:
        client = guarded(server.url, GuardLimits(request_seconds=2))
        with pytest.raises(ServerRefused, match=f"answered {status}"):
            client.post("/v1/chat/completions", json={})
    assert isinstance(client._transport, RequestGuard)
    assert client._transport.refusal is not None


def test_guard_waits_retry_after_then_succeeds() -> None:
    answers = iter([answer(429, retry_after="0.25"), answer(429, retry_after="0.5"), answer(200)])
    sleeps: list[float] = []
    with HostileServer(lambda _: next(answers)) as server:
        client = guarded(server.url, GuardLimits(request_seconds=2), sleeps)
        response = client.post("/v1/chat/completions", json={"x": 1})
    assert response.status_code == 200
    assert sleeps == [0.25, 0.5]  # the server's own Retry-After, in order
    assert [r.body for r in server.requests] == [b'{"x":1}'] * 3  # the body is resent


def test_guard_gives_up_on_persistent_429_with_a_refusal() -> None:
    sleeps: list[float] = []
    with HostileServer(lambda _: answer(429, retry_after="10")) as server:
        client = guarded(server.url, GuardLimits(max_retry_after_seconds=15), sleeps)
        with pytest.raises(ServerRefused, match="429 Too Many Requests"):
            client.get("/v1/models")
    assert sum(sleeps) <= 15


def test_guard_fails_fast_once_the_server_counts_as_hung() -> None:
    limits = GuardLimits(request_seconds=0.4, consecutive_timeouts=2)
    with HostileServer(health_ok_else(Act(how="hang"))) as server:
        client = guarded(server.url, limits)
        for _ in range(2):
            with pytest.raises(httpx.TimeoutException):
                client.post("/v1/chat/completions", json={})
        started = time.monotonic()
        with pytest.raises(ServerRefused, match="counts as hung"):
            client.post("/v1/chat/completions", json={})
        assert time.monotonic() - started < 0.3  # no third wait
        assert len(server.requests) == 2


def test_guard_bounds_a_dripping_answer_by_its_total_deadline() -> None:
    body = b'{"padding": "' + b"x" * 200 + b'"}'
    drip = Act(how="drip", body=body, drip_interval=0.02)
    with HostileServer(lambda _: drip) as server:
        client = guarded(server.url, GuardLimits(request_seconds=1.0))
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            client.get("/v1/models")
    assert time.monotonic() - started < 4.0  # a 5 s drip cut at about 1 s


def test_guard_refuses_requests_after_the_stage_deadline() -> None:
    with HostileServer(lambda _: answer(200)) as server:
        client = guarded(server.url, GuardLimits(stage_seconds=0.3))
        assert client.get("/health").status_code == 200
        time.sleep(0.4)
        with pytest.raises(ServerRefused, match=r"deadline of 0\.3 s"):
            client.get("/health")


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# ---- the capability probe: refusals are never capability evidence --------------------------


@pytest.mark.parametrize("status", [401, 403, 429])
def test_probe_refused_finds_no_unsupported_capability(status: int) -> None:
    with HostileServer(health_ok_else(answer(status, retry_after="0"))) as server:
        guard = RequestGuard(GuardLimits(request_seconds=2, max_rate_limit_retries=1))
        with httpx.Client(base_url=server.url, transport=guard, timeout=2) as client:
            found = probe(client, "hostile", "m", SchemaSet.load())
    assert guard.refusal is not None
    assert str(status) in guard.refusal
    unsupported = {name for name, finding in found.findings.items() if finding.support == "no"}
    assert unsupported == set(), f"a {status} was taken as evidence: {unsupported}"


def test_a_refused_probe_fails_every_later_case_without_probing_again() -> None:
    probes = ScenarioProbes()
    probed: list[object] = []

    def ask(server: HostileServer) -> None:
        guard = RequestGuard(GuardLimits(request_seconds=2))
        refused = pytest.raises(ProbeRefused, match=r"^capability probe of 'hostile' refused: ")
        with httpx.Client(base_url=server.url, transport=guard, timeout=2) as client, refused:
            probes.capabilities("hostile", client, guard, "m", SCHEMAS, probed.append)

    with HostileServer(health_ok_else(answer(401))) as server:
        ask(server)
        sent = len(server.requests)
        ask(server)
    assert sent > 0
    assert len(server.requests) == sent
    assert probed == []


# ---- accuracy: errors fail the stage, Retry-After is honoured -------------------------------


def test_accuracy_fails_when_every_request_failed(tmp_path: Path) -> None:
    profile = AccuracyProfile(
        dataset_path=str(DATASET), synthetic=True, num_examples=5, max_retries=0, threshold=0.0
    )
    with HostileServer(lambda _: answer(500, {"error": "boom"})) as server:
        scenario = Scenario(id="acc", mode="external", model="m", base_url=server.url)
        endpoint = Endpoint(scenario, server.url, "m")
        outcome = run_profile(profile, endpoint, tmp_path, tmp_path / "out", "pr")
    assert outcome.errors == 5
    assert not outcome.passed  # before: score 0.0 >= threshold 0.0 passed
    assert "5 of 5 requests failed" in outcome.summary()


def test_sampler_waits_the_servers_retry_after() -> None:
    reply = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
    answers = iter([answer(429, retry_after="0.3"), answer(200, reply)])
    config = SamplerConfig(api_base="", model="m", max_retries=2, backoff_seconds=0.0)
    with HostileServer(lambda _: next(answers)) as server:
        config = SamplerConfig(
            api_base=f"{server.url}/v1", model="m", max_retries=2, backoff_seconds=0.0
        )
        with ChatSampler(config) as sampler:
            started = time.monotonic()
            response = sampler.complete("hi")
    assert response.content == "ok"
    assert response.attempts == 2
    assert time.monotonic() - started >= 0.3  # backoff_seconds 0 alone would not wait


# ---- perf: prompt sizing and the load itself end against a hung server ----------------------


def test_perf_against_a_server_that_hangs_on_generation_ends_in_bounded_time(
    tmp_path: Path,
) -> None:
    profile = PerfProfile(
        concurrency=[1],
        input_length=[32],
        output_length=[4],
        num_requests_per_concurrency=2,
        warmup=0,
        timeout_seconds=1.0,
    )
    point = profile.load_points()[0]
    with HostileServer(health_ok_else(Act(how="hang"))) as server:
        target = RunTarget(server.url, "m", "hostile", "hostile")
        started = time.monotonic()
        outcome = run_point(target, profile, point, ScenarioWriter(tmp_path))
        waited = time.monotonic() - started
    assert waited < 20.0, f"a 1 s timeout profile took {waited:.0f} s"
    assert outcome.problems(profile.max_failure_ratio)  # failed, never a pass


def test_tests_share_what_the_stage_learnt_but_not_their_connections() -> None:
    # each functional test has its own guard (its connections close with the test), while
    # the hung count, the stage deadline and a refusal carry over to the next test
    state = GuardState()
    limits = GuardLimits(request_seconds=0.4, consecutive_timeouts=1)
    with HostileServer(health_ok_else(Act(how="hang"))) as server:
        first = httpx.Client(base_url=server.url, transport=RequestGuard(limits, state=state))
        with pytest.raises(httpx.TimeoutException):
            first.post("/v1/chat/completions", json={})
        first.close()
        second = httpx.Client(base_url=server.url, transport=RequestGuard(limits, state=state))
        with pytest.raises(ServerRefused, match="counts as hung"):
            second.post("/v1/chat/completions", json={})
    assert len(server.requests) == 1
    assert state.refusal is not None
