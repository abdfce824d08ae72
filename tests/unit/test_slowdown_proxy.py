"""The slowdown proxy before the simulator: latencies grow by about the factor, the rest passes.

Generous bounds only (a shared CI machine): the simulator's TTFT is set to 100 ms and its
inter-token gap to 20 ms, so scheduler noise of a few ms cannot hide a 2x stretch.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cibench.engines.slowdown import Stretch, factor_arg, loopback_port, serve_until
from cibench.sim.testing import run_simulator

SIM_ARGS = ("--prefill-base-ms", "100", "--itl-base-ms", "20", "--model", "sim-model")
MAX_TOKENS = 10  # E2E = 100 ms + 9 gaps of 20 ms = 280 ms


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with run_simulator(*SIM_ARGS) as base_url:
        yield base_url


def proxy_to(upstream: str, factor: float) -> Iterator[str]:
    """The proxy on a free loopback port, in a thread of its own, for the span of a test."""
    port = loopback_port()
    stop, listening = threading.Event(), threading.Event()
    serving = serve_until(upstream, "127.0.0.1", port, factor, stop, listening)
    thread = threading.Thread(target=asyncio.run, args=(serving,))
    thread.start()
    try:
        assert listening.wait(timeout=15), "the proxy did not start listening within 15 s"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def doubled(simulator: str) -> Iterator[str]:
    yield from proxy_to(simulator, 2.0)


def timed_stream(client: httpx.Client) -> tuple[float, float, str]:
    """One streamed chat completion: (TTFT s, E2E s, the body). The client is made and
    connected beforehand: its setup is no part of the server's latency."""
    request = {
        "model": "sim-model",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": MAX_TOKENS,
        "stream": True,
        "ignore_eos": True,
    }
    started = time.perf_counter()
    first = None
    body = []
    with client.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if first is None and '"content"' in line:
                first = time.perf_counter() - started
            body.append(line)
    assert first is not None
    return first, time.perf_counter() - started, "\n".join(body)


def medians(base_url: str, n: int = 3) -> tuple[float, float]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.get("/v1/models")  # connects
        runs = [timed_stream(client) for _ in range(n)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def test_a_doubling_proxy_doubles_ttft_and_e2e(simulator: str, doubled: str) -> None:
    direct_ttft, direct_e2e = medians(simulator)
    slowed_ttft, slowed_e2e = medians(doubled)
    assert 1.5 < slowed_ttft / direct_ttft < 3.0, (direct_ttft, slowed_ttft)
    assert 1.5 < slowed_e2e / direct_e2e < 3.0, (direct_e2e, slowed_e2e)


def test_the_stream_keeps_its_tokens_in_order(doubled: str) -> None:
    with httpx.Client(base_url=doubled, timeout=30) as client:
        *_, body = timed_stream(client)
    events = [line for line in body.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert sum('"content"' in e for e in events) >= MAX_TOKENS


def without_created(models: dict[str, Any]) -> dict[str, Any]:
    return {**models, "data": [{**m, "created": None} for m in models["data"]]}


def test_status_headers_and_plain_bodies_pass_through(simulator: str, doubled: str) -> None:
    direct = httpx.get(f"{simulator}/v1/models", timeout=10)
    proxied = httpx.get(f"{doubled}/v1/models", timeout=10)
    assert proxied.status_code == direct.status_code == 200
    # `created` is the time of each answer, so the two may be a second apart
    assert without_created(proxied.json()) == without_created(direct.json())
    assert proxied.headers["content-type"] == direct.headers["content-type"]
    missing = httpx.get(f"{doubled}/no/such/path?x=1", timeout=10)
    assert missing.status_code == httpx.get(f"{simulator}/no/such/path?x=1").status_code


def test_an_unreachable_upstream_is_a_502_naming_it() -> None:
    upstream = f"http://127.0.0.1:{loopback_port()}"
    for base_url in proxy_to(upstream, 1.0):
        answer = httpx.get(f"{base_url}/health", timeout=10)
        assert answer.status_code == 502
        assert upstream in answer.text


def test_the_stretch_scales_time_since_the_request() -> None:
    stretch = Stretch(start=10.0, factor=1.3)
    assert stretch.due(10.0) == 10.0
    assert stretch.due(11.0) == pytest.approx(11.3)
    assert stretch.due(20.0) == pytest.approx(23.0)


@pytest.mark.parametrize("text", ["0.9", "0", "-1", "fast", "nan"])
def test_a_factor_below_one_or_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        factor_arg(text)


def test_factors_from_one_up_are_accepted() -> None:
    assert factor_arg("1") == 1.0
    assert factor_arg("1.3") == 1.3
