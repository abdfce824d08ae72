"""Measure the simulator itself: throughput on one core and client-visible timing error.

Run: `.venv/bin/python benchmarks/sim_capacity.py` (about two minutes). The simulator runs as
a subprocess pinned to one CPU (`taskset`) and this process to another (the last two CPUs)
when the machine has two or more.

1. Capacity: closed-loop streams from a hand-rolled keep-alive HTTP/1.1 client (aiohttp's
   client saturates its own core before the server does): a zero-latency simulator with 64
   streams of 16 tokens, and a 1 ms ITL simulator with 256 streams of 64 tokens; prints
   streamed tokens/s and requests/s.
2. Timing error: a simulator configured with TTFT 50 ms and ITL 10 ms (jitter off); prints the
   measured minus configured TTFT and ITL (median, p1/p99 in ms) at 1, 16 and 64 concurrent
   closed-loop streams, for a plain aiohttp client and for the raw client.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
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
ONE_MS_ITL = (
    "--prefill-base-ms", "0", "--prefill-per-token-ms", "0",
    "--itl-base-ms", "1", "--itl-per-running-seq-ms", "0",
)  # fmt: skip
TTFT_MS = 50.0
ITL_MS = 10.0
FIXED_LATENCY = (
    "--prefill-base-ms", str(TTFT_MS), "--prefill-per-token-ms", "0",
    "--itl-base-ms", str(ITL_MS), "--itl-per-running-seq-ms", "0", "--jitter", "0",
)  # fmt: skip


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


async def _raw_worker(host: str, port: int, request: bytes, stop_at: float) -> tuple[int, int]:
    """Closed-loop keep-alive HTTP/1.1 requests on one connection: (requests, content events).

    A hand-rolled client, because the question is how much the server sustains: aiohttp's
    client saturates its own core first.
    """
    reader, writer = await asyncio.open_connection(host, port)
    requests = events = 0
    try:
        while time.perf_counter() < stop_at:
            writer.write(request)
            received = b""
            while not received.endswith(b"\r\n0\r\n\r\n"):  # end of the chunked body
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                received += data
            requests += 1
            events += received.count(b"data: {")
    finally:
        writer.close()
    return requests, events


async def capacity(
    base_url: str, concurrency: int, duration_s: float, max_tokens: int, label: str
) -> None:
    """Closed-loop streams for `duration_s`; prints tokens/s and requests/s."""
    host, port = base_url.removeprefix("http://").split(":")
    request = _raw_request(max_tokens)
    await _raw_worker(host, int(port), request, time.perf_counter() + 0.5)  # warm-up
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_raw_worker(host, int(port), request, start + duration_s) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    requests = sum(r for r, _ in results)
    tokens = sum(e for _, e in results)
    print(
        f"{label:12s}  c={concurrency:3d}  tokens/request={max_tokens:3d}  "
        f"{tokens / elapsed:9.0f} tokens/s  {requests / elapsed:7.0f} requests/s"
    )


def _raw_request(max_tokens: int) -> bytes:
    payload = json.dumps(_body(max_tokens)).encode()
    return (
        b"POST /v1/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
    )


async def _raw_stream_once(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[float, list[float], int]:
    """One streamed request on a raw keep-alive connection, stamped at each socket read."""
    sent = time.perf_counter()
    writer.write(request)
    stamps: list[float] = []
    tail = b""
    while not tail.endswith(b"\r\n0\r\n\r\n"):
        data = await reader.read(65536)
        now = time.perf_counter()
        if not data:
            raise ConnectionError("server closed the connection")
        stamps.extend([now] * data.count(b"data: {"))
        tail = (tail + data)[-16:]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0] - sent, gaps, len(stamps)


async def timing_error(
    base_url: str, concurrency: int, rounds: int, max_tokens: int, client: str
) -> str:
    """TTFT and ITL error versus the configured 50 ms / 10 ms, closed loop.

    Each of `concurrency` workers sends `rounds` requests back to back, starting at a random
    offset within one request's duration, so arrivals are spread as in a steady state rather
    than all landing in the same millisecond. `client` is "aiohttp" (a plain aiohttp client)
    or "raw" (hand-rolled HTTP/1.1 over asyncio streams, stamped at socket reads: the least
    a client can add).
    """
    url = f"{base_url}/v1/completions"
    host, port = base_url.removeprefix("http://").split(":")
    request = _raw_request(max_tokens)
    ttft_err: list[float] = []
    itl_err: list[float] = []
    request_s = (TTFT_MS + ITL_MS * (max_tokens - 1)) / 1e3
    rng = random.Random(0)

    def record(ttft: float, gaps: list[float]) -> None:
        ttft_err.append(ttft * 1e3 - TTFT_MS)
        itl_err.extend(g * 1e3 - ITL_MS for g in gaps)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _stream_once(session, url, 2)  # warm-up: connection set-up is not measured

        async def worker(offset_s: float) -> None:
            if client == "raw":
                reader, writer = await asyncio.open_connection(host, int(port))
            await asyncio.sleep(offset_s)
            for _ in range(rounds):
                if client == "raw":
                    ttft, gaps, _ = await _raw_stream_once(reader, writer, request)
                else:
                    ttft, gaps, _ = await _stream_once(session, url, max_tokens)
                record(ttft, gaps)
            if client == "raw":
                writer.close()

        offsets = [
            rng.uniform(0, request_s) if concurrency > 1 else 0.0 for _ in range(concurrency)
        ]
        await asyncio.gather(*(worker(o) for o in offsets))
    return (
        f"{client:7s}  c={concurrency:3d}  n={len(ttft_err):4d}  "
        f"TTFT err median {statistics.median(ttft_err):+6.2f} ms  "
        f"p99 {_percentile(ttft_err, 99):+6.2f} ms  |  "
        f"ITL err median {statistics.median(itl_err):+6.2f} ms  "
        f"p1 {_percentile(itl_err, 1):+6.2f}  p99 {_percentile(itl_err, 99):+6.2f} ms"
    )


def main() -> None:
    """Run both measurements and print one line per load point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="capacity run, seconds")
    parser.add_argument("--rounds", type=int, default=10, help="requests per timing worker")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--clients", nargs="+", choices=("aiohttp", "raw"), default=["aiohttp", "raw"]
    )
    args = parser.parse_args()

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinned = len(cpus) >= 2 and shutil.which("taskset") is not None
    # the last two CPUs: CPU 0 tends to take the machine's interrupts and housekeeping
    server_cpu, client_cpu = (cpus[-2], cpus[-1]) if pinned else (0, 0)
    prefix = ("taskset", "-c", str(server_cpu)) if pinned else ()
    where = f"server cpu{server_cpu}, client cpu{client_cpu}" if pinned else "no"
    print(f"cpus={os.cpu_count()}  pinned={where}")
    if pinned:
        os.sched_setaffinity(0, {client_cpu})
    print("-- capacity (raw keep-alive HTTP client, closed loop) --")
    with run_simulator(*ZERO_LATENCY, "--max-num-seqs", "4096", launcher=prefix) as url:
        asyncio.run(capacity(url, 64, args.duration, 16, "zero latency"))
    with run_simulator(*ONE_MS_ITL, "--max-num-seqs", "4096", launcher=prefix) as url:
        asyncio.run(capacity(url, 256, args.duration, 64, "ITL 1 ms"))
    print(f"-- timing error, measured - configured (TTFT {TTFT_MS:g} ms, ITL {ITL_MS:g} ms) --")
    flags = (*FIXED_LATENCY, "--max-num-seqs", "1024")
    with run_simulator(*flags, launcher=prefix) as url:
        for client in args.clients:
            for c in args.concurrency:
                rounds = args.rounds * (5 if c == 1 else 1)
                print(asyncio.run(timing_error(url, c, rounds, 32, client)))


if __name__ == "__main__":
    main()
