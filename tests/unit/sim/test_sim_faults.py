"""Every fault-injection and conformance-breaking flag does what it says."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
import pytest

from cibench.sim.testing import run_simulator, sse_events

MODEL = "sim-model"
FAST = ("--model", MODEL, "--prefill-base-ms", "1", "--itl-base-ms", "1")


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **extra}


def stream_events(url: str, body: dict[str, Any]) -> list[Any]:
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as r:
        assert r.status_code == 200
        return sse_events(r.read().decode())


def test_error_ratio_one_answers_500_and_stays_healthy() -> None:
    with run_simulator(*FAST, "--error-ratio", "1") as url:
        resp = httpx.post(f"{url}/v1/chat/completions", json=chat_body())
        assert resp.status_code == 500
        assert resp.json()["error"]["type"] == "InternalServerError"
        assert httpx.get(f"{url}/health").status_code == 200


def test_error_ratio_is_a_fraction_of_requests() -> None:
    with run_simulator(*FAST, "--error-ratio", "0.5", "--seed", "1") as url:
        codes = [
            httpx.post(f"{url}/v1/completions",
                       json={"model": MODEL, "prompt": "x", "max_tokens": 1}).status_code
            for _ in range(60)
        ]  # fmt: skip
    failures = codes.count(500)
    assert 15 <= failures <= 45
    assert codes.count(200) == 60 - failures


def test_sse_error_sends_in_band_error_then_done() -> None:
    with run_simulator(*FAST, "--sse-error-ratio", "1") as url:
        events = stream_events(url, chat_body(max_tokens=10, ignore_eos=True))
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["type"] == "InternalServerError"
    contents = [e for e in events[:-2] if e["choices"][0]["delta"].get("content")]
    assert 0 < len(contents) < 10


def test_slow_start_reports_503_then_200() -> None:
    with run_simulator(*FAST, "--slow-start-seconds", "1.0", wait_healthy=False) as url:
        assert httpx.get(f"{url}/health").status_code == 503
        time.sleep(1.1)
        deadline = time.monotonic() + 10.0  # a busy host may answer late, never early
        while httpx.get(f"{url}/health").status_code != 200:
            assert time.monotonic() < deadline, "still not healthy 10 s after slow start"
            time.sleep(0.05)


def test_crash_after_n_requests_exits_the_process() -> None:
    with run_simulator(*FAST, "--crash-after", "2") as url:
        for _ in range(2):
            r = httpx.post(f"{url}/v1/completions",
                           json={"model": MODEL, "prompt": "x", "max_tokens": 2})  # fmt: skip
            assert r.status_code == 200
        deadline = time.monotonic() + 10.0  # the exit may take a moment on a busy host
        with pytest.raises(httpx.TransportError):  # noqa: PT012
            while time.monotonic() < deadline:
                httpx.get(f"{url}/health", timeout=1.0)
                time.sleep(0.05)


def test_stalled_stream_goes_silent_half_way() -> None:
    with run_simulator(*FAST, "--stall-ratio", "1", "--stall-seconds", "0.6") as url:
        body = {**chat_body(max_tokens=10, ignore_eos=True), "stream": True}
        stamps: list[float] = []
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    stamps.append(time.perf_counter())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) >= 0.55
    assert sorted(gaps)[-2] < 0.5  # only one silence as long as the stall


def test_slowdown_scales_latency() -> None:
    def ttft(*flags: str) -> float:
        """The fastest of three requests: a busy host only ever adds time."""
        with run_simulator("--model", MODEL, "--prefill-base-ms", "40", *flags) as url:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                httpx.post(f"{url}/v1/completions",
                           json={"model": MODEL, "prompt": "x", "max_tokens": 1})  # fmt: skip
                times.append(time.perf_counter() - start)
            return min(times)

    slow, normal = ttft("--slowdown", "4"), ttft()
    assert slow >= 4 * 0.040  # never faster than the slowed-down prefill
    assert normal >= 0.040
    assert slow > normal


def test_ignore_json_schema_answers_plain_text() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    with run_simulator(*FAST, "--ignore-json-schema") as url:
        r = httpx.post(f"{url}/v1/chat/completions",
                       json=chat_body(response_format=fmt, max_tokens=30))  # fmt: skip
    content = r.json()["choices"][0]["message"]["content"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_omit_done_drops_the_sentinel() -> None:
    with run_simulator(*FAST, "--omit-done") as url:
        events = stream_events(url, chat_body(max_tokens=3))
    assert "[DONE]" not in events
    assert events[-1]["choices"][0]["finish_reason"] is not None


def test_wrong_finish_reason_swaps_length_and_stop() -> None:
    with run_simulator(*FAST, "--wrong-finish-reason") as url:
        r = httpx.post(f"{url}/v1/chat/completions",
                       json=chat_body(max_tokens=3, ignore_eos=True)).json()  # fmt: skip
        assert r["choices"][0]["finish_reason"] == "stop"
        r = httpx.post(f"{url}/v1/chat/completions", json=chat_body(max_tokens=2000)).json()
        assert r["choices"][0]["finish_reason"] == "length"


def test_invalid_params_500_turns_400_into_500() -> None:
    with run_simulator(*FAST, "--invalid-params-500") as url:
        r = httpx.post(f"{url}/v1/chat/completions", json=chat_body(temperature=-1))
        assert r.status_code == 500
        r = httpx.post(f"{url}/v1/chat/completions", json=chat_body(model="nope"))
        assert r.status_code == 404


def test_unhealthy_after_bad_request_poisons_health() -> None:
    with run_simulator(*FAST, "--unhealthy-after-bad-request") as url:
        assert httpx.get(f"{url}/health").status_code == 200
        httpx.post(f"{url}/v1/chat/completions", json=chat_body(n=0))
        assert httpx.get(f"{url}/health").status_code == 503
