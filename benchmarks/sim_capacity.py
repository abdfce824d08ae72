"""Measure the simulator itself: throughput on one core and client-visible timing error.

Run: `.venv/bin/python benchmarks/sim_capacity.py` (about a minute). The simulator runs as a
subprocess pinned to CPU 0 and this process (a plain aiohttp client) to CPU 1 when the machine
has two or more CPUs.

1. Capacity: a zero-latency simulator, many concurrent closed-loop streams of 16 tokens each;
   prints sustained streamed tokens/s and requests/s.
2. Timing error: a simulator configured with TTFT 50 ms and ITL 10 ms (jitter off); prints the
   measured minus configured TTFT and ITL (median and p99, in ms) at 1, 16 and 64 concurrent
   streams.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import time
from collections.abc import Sequence

import aiohttp

from cibench.sim.testing import run_simulator

ZERO_LATENCY = (
    "--prefill-base-ms", "0", "--prefill-per-token-ms", "0",
    "--itl-base-ms", "0", "--itl-per-running-seq-ms", "0",
)  # fmt: skip
TTFT_MS = 50.0
ITL_MS = 10.0
FIXED_LATENCY = (
    "--prefill-base-ms", str(TTFT_MS), "--prefill-per-token-ms", "0",
    "--itl-base-ms", str(ITL_MS), "--itl-per-running-seq-ms", "0", "--jitter", "0",
)  # fmt: skip


def _pin(cpu: int) -> None:
    """Pin this process to `cpu` when the machine has more than one."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _body(max_tokens: int) -> dict[str, object]:
    return {
        "model": "sim-model",
        "prompt": "hello",
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
    }


async def _stream_once(
    session: aiohttp.ClientSession, url: str, max_tokens: int
) -> tuple[float, list[float], int]:
    """One streamed request: (TTFT s, token gaps s, content events)."""
    sent = time.perf_counter()
    stamps: list[float] = []
    async with session.post(url, json=_body(max_tokens)) as resp:
        async for line in resp.content:
            if line.startswith(b"data: {"):
                stamps.append(time.perf_counter())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0] - sent, gaps, len(stamps)


async def capacity(base_url: str, concurrency: int, duration_s: float, max_tokens: int) -> None:
    """Closed-loop streams against a zero-latency simulator for `duration_s`."""
    url = f"{base_url}/v1/completions"
    requests = 0
    tokens = 0
    stop_at = time.perf_counter() + duration_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal requests, tokens
            while time.perf_counter() < stop_at:
                _, _, n = await _stream_once(session, url, max_tokens)
                requests += 1
                tokens += n

        await _stream_once(session, url, max_tokens)  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    print(
        f"capacity  concurrency={concurrency:3d}  tokens/request={max_tokens}  "
        f"{tokens / elapsed:9.0f} tokens/s  {requests / elapsed:7.0f} requests/s"
    )


async def timing_error(base_url: str, concurrency: int, rounds: int, max_tokens: int) -> None:
    """TTFT and ITL error versus the configured 50 ms / 10 ms."""
    url = f"{base_url}/v1/completions"
    ttft_err: list[float] = []
    itl_err: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _stream_once(session, url, 2)  # warm-up: connection set-up is not measured
        for _ in range(rounds):
            results = await asyncio.gather(
                *(_stream_once(session, url, max_tokens) for _ in range(concurrency))
            )
            for ttft, gaps, _ in results:
                ttft_err.append(ttft * 1e3 - TTFT_MS)
                itl_err.extend(g * 1e3 - ITL_MS for g in gaps)
    print(
        f"timing    concurrency={concurrency:3d}  requests={len(ttft_err):4d}  "
        f"TTFT error median {statistics.median(ttft_err):+6.2f} ms  "
        f"p99 {_percentile(ttft_err, 99):+6.2f} ms  |  "
        f"ITL error median {statistics.median(itl_err):+6.2f} ms  "
        f"p99 {_percentile(itl_err, 99):+6.2f} ms  "
        f"(ITL p1 {_percentile(itl_err, 1):+6.2f} ms)"
    )


def main() -> None:
    """Run both measurements and print one line per load point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="capacity run, seconds")
    parser.add_argument("--capacity-concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20, help="timing rounds per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()

    pinned = (
        (os.cpu_count() or 1) >= 2
        and hasattr(os, "sched_setaffinity")
        and shutil.which("taskset") is not None
    )
    # the simulator inherits CPU 0 through taskset; this process then moves to CPU 1
    prefix = ("taskset", "-c", "0") if pinned else ()
    print(f"cpus={os.cpu_count()}  pinned={'server cpu0, client cpu1' if pinned else 'no'}")
    with run_simulator(*ZERO_LATENCY, "--max-num-seqs", "1024", launcher=prefix) as url:
        _pin(1)
        asyncio.run(capacity(url, args.capacity_concurrency, args.duration, 16))
    with run_simulator(*FIXED_LATENCY, "--max-num-seqs", "1024", launcher=prefix) as url:
        for c in args.concurrency:
            asyncio.run(timing_error(url, c, args.rounds if c > 1 else args.rounds * 5, 32))


if __name__ == "__main__":
    main()
