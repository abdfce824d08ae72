"""Client-visible timing, batching and preemption.

Bounds a busy host cannot break: the simulator never answers faster than configured, a busy
host only adds time; counts are read once the state they describe has been reached. Exact
figures come from `benchmarks/sim_capacity.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import statistics
import time
from typing import Any

import httpx
import pytest

from cibench.sim.testing import run_simulator

MODEL = "sim-model"


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def timed_stream(
    client: httpx.AsyncClient, max_tokens: int, prompt: str = "hi"
) -> tuple[float, list[float], int]:
    """(TTFT s, gaps between content chunks s, usage completion tokens) of one stream."""
    body: dict[str, Any] = {
        "model": MODEL, "prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True,
        "stream": True, "stream_options": {"include_usage": True},
    }  # fmt: skip
    start = time.perf_counter()
    stamps: list[float] = []
    usage = 0
    async with client.stream("POST", "/v1/completions", json=body) as resp:
        async for line in resp.aiter_lines():
            if line.startswith('data: {"id"') and '"choices":[]' not in line:
                stamps.append(time.perf_counter())
            if '"choices":[]' in line:
                usage = int(re.search(r'"completion_tokens":(\d+)', line).group(1))  # type: ignore[union-attr]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0] - start, gaps, usage


def test_single_stream_ttft_and_itl_match_configuration() -> None:
    flags = ("--prefill-base-ms", "30", "--prefill-per-token-ms", "0", "--itl-base-ms", "8",
             "--itl-per-running-seq-ms", "0")  # fmt: skip

    async def run(url: str) -> list[tuple[float, list[float], int]]:
        async with httpx.AsyncClient(base_url=url) as client:
            await timed_stream(client, 2)
            return [await timed_stream(client, 20) for _ in range(5)]

    with run_simulator("--model", MODEL, *flags) as url:
        results = asyncio.run(run(url))
    ttfts = [r[0] for r in results]
    gaps = [g for r in results for g in r[1]]
    assert 0.029 <= statistics.median(ttfts) < 0.3
    # absolute deadlines: late wake-ups catch up, so the average gap is never below 8 ms
    assert 0.0075 <= statistics.mean(gaps) < 0.05
    assert all(r[2] == 20 for r in results)


def test_prefill_time_grows_with_prompt_tokens() -> None:
    flags = ("--prefill-base-ms", "5", "--prefill-per-token-ms", "0.1", "--itl-base-ms", "1")
    long_prompt = "the " * 400

    async def run(url: str) -> tuple[float, float]:
        async with httpx.AsyncClient(base_url=url) as client:
            await timed_stream(client, 2)
            # medians of five: one sample can catch a late wake-up on a busy machine
            short = [(await timed_stream(client, 2, "x"))[0] for _ in range(5)]
            long = [(await timed_stream(client, 2, long_prompt))[0] for _ in range(5)]
            return statistics.median(short), statistics.median(long)

    with run_simulator("--model", MODEL, *flags) as url:
        short, long = asyncio.run(run(url))
        count = httpx.post(f"{url}/tokenize", json={"prompt": long_prompt}).json()["count"]
    expected = (count - 1) * 0.1e-3
    assert long - short > expected / 2


def test_inter_token_time_grows_with_running_streams() -> None:
    flags = ("--prefill-base-ms", "1", "--itl-base-ms", "1", "--itl-per-running-seq-ms", "3")

    async def run(url: str, streams: int) -> float:
        async with httpx.AsyncClient(base_url=url) as client:
            results = await asyncio.gather(*(timed_stream(client, 40) for _ in range(streams)))
        return statistics.mean(g for r in results for g in r[1])

    with run_simulator("--model", MODEL, *flags) as url:
        alone = asyncio.run(run(url, 1))
        crowded = asyncio.run(run(url, 6))
    # 1 ms + 3 ms per running stream: 4 ms alone, up to 19 ms among six
    assert alone > 0.003  # a late first chunk shortens the mean a little, never by 1 ms
    assert crowded > alone * 2


def test_max_num_seqs_queues_requests_visibly_in_metrics() -> None:
    flags = ("--max-num-seqs", "2", "--prefill-base-ms", "1", "--itl-base-ms", "5")

    async def run(url: str) -> tuple[str, list[tuple[float, list[float], int]]]:
        async with httpx.AsyncClient(base_url=url) as client:
            streams = asyncio.gather(*(timed_stream(client, 20) for _ in range(6)))
            during = ""
            deadline = time.monotonic() + 10.0
            # read the counts once requests queue up (when that is depends on the host)
            while time.monotonic() < deadline:
                during = (await client.get("/metrics")).text
                if metric(during, "vllm:num_requests_waiting") > 0:
                    break
                await asyncio.sleep(0.01)
            return during, await streams

    with run_simulator("--model", MODEL, *flags) as url:
        during, results = asyncio.run(run(url))
        after = httpx.get(f"{url}/metrics").text
    assert metric(during, "vllm:num_requests_waiting") > 0
    assert metric(during, "vllm:num_requests_running") == 2  # queued because the batch is full
    assert metric(during, "vllm:num_requests_waiting") <= 4
    ttfts = sorted(r[0] for r in results)
    assert ttfts[-1] > 0.18  # the last pair waited for two batches of 20 tokens x 5 ms
    assert metric(after, "vllm:request_queue_time_seconds_sum") > 0.3
    assert metric(after, "vllm:num_requests_running") == 0
    assert metric(after, "vllm:num_requests_waiting") == 0
    assert metric(after, "vllm:request_success_total") == 6


def test_kv_budget_preempts_and_every_request_still_completes() -> None:
    flags = ("--kv-cache-tokens", "200", "--prefill-base-ms", "1", "--itl-base-ms", "1")
    prompt = "word " * 40

    async def run(url: str) -> list[tuple[float, list[float], int]]:
        async with httpx.AsyncClient(base_url=url) as client:
            return await asyncio.gather(*(timed_stream(client, 60, prompt) for _ in range(4)))

    with run_simulator("--model", MODEL, *flags) as url:
        results = asyncio.run(run(url))
        text = httpx.get(f"{url}/metrics").text
    assert all(r[2] == 60 for r in results)
    assert metric(text, "vllm:num_preemptions_total") > 0
    assert metric(text, "vllm:kv_cache_usage_perc") == 0
    assert metric(text, "vllm:generation_tokens_total") == 240


def running_after_settling(url: str) -> float:
    deadline = time.monotonic() + 2.0
    while True:
        running = metric(httpx.get(f"{url}/metrics").text, "vllm:num_requests_running")
        if running == 0 or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


def test_client_disconnect_frees_the_batch_slot() -> None:
    flags = ("--prefill-base-ms", "1", "--itl-base-ms", "5")
    body = {"model": MODEL, "prompt": "x", "max_tokens": 2000, "ignore_eos": True}
    with run_simulator("--model", MODEL, *flags) as url:
        with pytest.raises(httpx.ReadTimeout):  # non-stream: the client gives up waiting
            httpx.post(f"{url}/v1/completions", json=body, timeout=0.2)
        assert running_after_settling(url) == 0
        stream_body = {**body, "stream": True}
        with httpx.stream("POST", f"{url}/v1/completions", json=stream_body) as resp:
            lines = resp.iter_lines()
            assert next(lines).startswith("data: ")  # then hang up mid-stream
        assert running_after_settling(url) == 0
