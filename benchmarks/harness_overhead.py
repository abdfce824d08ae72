"""Measure cibench's perf runner itself: timing error, and the highest open-loop rate it sustains.

Run: `.venv/bin/python benchmarks/harness_overhead.py [timing|rate] [--quick]` (about three
minutes in all). Each server runs as a subprocess pinned to one CPU and this process (the
runner) to another, when the machine has two or more.

1. Timing error, against two servers with TTFT 50 ms and 10 ms per token (64-token outputs,
   closed loop, 1, 32 and 64 concurrent streams, both backends):
   - the reference server in this file: it stamps each request with the kernel's receive
     time (SO_TIMESTAMPNS, so its own intake queue is its own), paces tokens to the
     microsecond from that time from one coroutine and logs when it really sent each
     request's first token, so the last column is the client's own error exactly (our
     first-token timestamp − its send time);
   - the simulator (jitter off): realistic, but its own lateness and its one-at-a-time
     request intake are part of "measured − configured"; the last column is the measured
     mean minus the simulator's own mean TTFT from its /metrics.
   Printed: measured − configured TTFT and TPOT (median, p99) in ms.
2. Open-loop capacity: Poisson arrivals at rising rates for a few seconds each, 16-token
   streamed outputs, against the reference server with zero latency (so the figure is the
   client's ceiling) and against the zero-latency simulator; prints the highest rate with no
   failed request and a clean harness-health verdict (completions keep pace with the
   schedule, sends on time, receive lag and achieved rate within their thresholds).

3. `health [--backend B --rate R --seconds S]`: one uncapped open-loop point against the
   zero-latency reference server (default threading-pool, 4,800 req/s, 10 s), judged by the
   runner's harness-health verdict (`cibench/perf/health.py`): it prints lateness, receive
   lag, completion span vs schedule span and achieved rate, and the reasons when the point is
   harness-bound. The rate ladder of (2) counts a rate as kept only when this verdict is clean.

Set CIBENCH_BENCH_DETAIL=1 to break the reference server's TTFT error down into request
transit, server lateness and receive delay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from cibench.client.http1 import encode_request
from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest
from cibench.launch.process import free_port
from cibench.perf.backends import execute
from cibench.perf.health import Health, HealthLimits, assess
from cibench.perf.phase import Address, Phase
from cibench.perf.probe import LagProbe
from cibench.perf.schedule import Schedule, fixed_offsets, poisson_offsets
from cibench.perf.server_metrics import server_metrics
from cibench.perf.stats import percentile, tpot_s, ttft_s

TTFT_MS = 50.0
ITL_MS = 10.0
TOKENS = 64
BACKENDS = ("asyncio", "threading-pool")
SERVER_CPU, CLIENT_CPU = 0, 1
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value


def _cpus() -> tuple[int, int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[-2], cpus[-1]) if len(cpus) >= 2 else None


@contextmanager
def _server(args: Sequence[str], cpu: int | None) -> Iterator[str]:
    """Start a server command that takes `--port`, pinned to `cpu`; yield its base URL."""
    port = free_port()
    proc = subprocess.Popen([*args, "--port", str(port)], stdout=subprocess.DEVNULL)
    if cpu is not None:
        os.sched_setaffinity(proc.pid, {cpu})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server {args} did not come up")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _requests(url: str, count: int, tokens: int, start: int = 0) -> list[PreparedRequest]:
    host = url.removeprefix("http://")
    requests = []
    for index in range(count):
        body = {
            "model": "sim-model",
            "messages": [{"role": "user", "content": f"request {start + index} of the benchmark"}],
            "max_tokens": tokens,
            "min_tokens": tokens,
            "ignore_eos": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        payload = encode_request(
            "POST",
            host,
            "/v1/chat/completions",
            {"Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        requests.append(PreparedRequest(index, payload, True, tokens))
    return requests


def _target(url: str) -> Address:
    return Address("127.0.0.1", int(url.rsplit(":", 1)[1]), 60.0)


def _ms(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 1e3:+6.2f}"


def _timing_server(kind: str, log: str) -> list[str]:
    if kind == "reference":
        return [
            sys.executable, __file__, "serve", "--tokens", str(TOKENS),
            "--ttft-ms", str(TTFT_MS), "--itl-ms", str(ITL_MS), "--log", log,
        ]  # fmt: skip
    return [
        sys.executable, "-m", "cibench.sim", "--max-num-seqs", "1024",
        "--prefill-base-ms", str(TTFT_MS), "--prefill-per-token-ms", "0",
        "--itl-base-ms", str(ITL_MS), "--itl-per-running-seq-ms", "0",
        "--jitter", "0",
    ]  # fmt: skip


def timing_error(
    cpus: tuple[int, int] | None, kind: str, concurrencies: Sequence[int], rounds: int
) -> None:
    """Print measured − configured TTFT/TPOT per backend and concurrency against `kind`.

    The last column is the client's own share of the TTFT error (median): against the
    reference server, measured TTFT − (its logged first-token send time − our send time);
    against the simulator, measured mean − the simulator's own mean TTFT from /metrics.
    """
    print(
        f"\ntiming error vs {kind} server (TTFT {TTFT_MS:g} ms, {ITL_MS:g} ms/token, "
        f"{TOKENS} tokens, closed loop), ms"
    )
    print("backend         streams  TTFT p50  TTFT p99  TPOT p50  TPOT p99  client-only TTFT")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "sends.log")
        runs: list[tuple[str, int, int, list[RequestRecord], float | None]] = []
        with _server(_timing_server(kind, log), cpus[0] if cpus else None) as url:
            base = 0
            for backend in BACKENDS:
                for streams in concurrencies:
                    base += 1_000_000
                    fixed = Schedule(tuple(fixed_offsets(streams)))
                    warm = Phase(_requests(url, streams, 4, base), fixed)
                    measured = Phase(_requests(url, streams * rounds, TOKENS, base + 1000), fixed)
                    scrapes: list[str] = []

                    def scrape(position: int, into: list[str] = scrapes) -> None:
                        if position == 1 and kind == "simulator":
                            into.append(httpx.get(f"{url}/metrics").text)

                    records = execute(backend, _target(url), [warm, measured], None, scrape)[1]
                    server_ttft = None
                    if kind == "simulator":
                        after = httpx.get(f"{url}/metrics").text
                        server_ttft = server_metrics(scrapes[0], after, len(records)).ttft_s
                    runs.append((backend, streams, base + 1000, records, server_ttft))
        sends = _read_sends(log) if kind == "reference" else {}
    for backend, streams, start, records, server_ttft in runs:
        _print_timing(backend, streams, records, _client_only(records, start, sends, server_ttft))


def _read_sends(log: str) -> dict[int, tuple[int, int, int]]:
    """Request index -> (first token sent, request received, last token sent), server ns."""
    sends: dict[int, tuple[int, int, int]] = {}
    with open(log) as handle:
        for line in handle:
            index, sent, received, last = line.split()
            sends[int(index)] = (int(sent), int(received), int(last))
    return sends


def _client_only(
    records: list[RequestRecord],
    start: int,
    sends: dict[int, tuple[int, int, int]],
    server_ttft: float | None,
) -> float | None:
    if server_ttft is not None:
        ttfts = [v for r in records if (v := ttft_s(r)) is not None]
        return sum(ttfts) / len(ttfts) - server_ttft if ttfts else None
    matched = [
        (r, sends[start + r.index])
        for r in records
        if r.success and r.token_ns and start + r.index in sends
    ]
    receive = [(r.token_ns[0] - sent) / 1e9 for r, (sent, _, _) in matched]
    if os.environ.get("CIBENCH_BENCH_DETAIL"):
        transit = [(received - r.start_ns) / 1e9 for r, (_, received, _) in matched]
        late = [(sent - received) / 1e9 - TTFT_MS / 1e3 for r, (sent, received, _) in matched]
        stream = (TOKENS - 1) * ITL_MS / 1e3
        last_late = [(last - sent) / 1e9 - stream for r, (sent, _, last) in matched]
        last_receive = [(r.token_ns[-1] - last) / 1e9 for r, (_, _, last) in matched]
        for name, values in (
            ("request transit", transit),
            ("server late", late),
            ("receive", receive),
            ("server last late", last_late),
            ("last receive", last_receive),
        ):
            print(
                f"    {name:<16} p50 {_ms(percentile(values, 50))} "
                f"p99 {_ms(percentile(values, 99))} max {_ms(max(values))}"
            )
    return percentile(receive, 50)


def _print_timing(
    backend: str, streams: int, records: list[RequestRecord], client_only: float | None
) -> None:
    ttfts = [v - TTFT_MS / 1e3 for r in records if (v := ttft_s(r)) is not None]
    tpots = [v - ITL_MS / 1e3 for r in records if (v := tpot_s(r)) is not None]
    failed = sum(not r.success for r in records)
    print(
        f"{backend:<15} {streams:>7}  {_ms(percentile(ttfts, 50))}    {_ms(percentile(ttfts, 99))}"
        f"    {_ms(percentile(tpots, 50))}    {_ms(percentile(tpots, 99))}    "
        f"{_ms(client_only)}" + (f"   ({failed} failed)" if failed else ""),
        flush=True,
    )


def _open_loop(backend: str, url: str, rate: float, seconds: float) -> tuple[Health, int]:
    """One uncapped Poisson point judged by the runner's own health verdict; (verdict, failed)."""
    count = max(50, int(rate * seconds))
    offsets = tuple(poisson_offsets(count, rate, seed=1))
    warm = Phase(_requests(url, 32, 16), Schedule(tuple(fixed_offsets(8))))
    measured = Phase(_requests(url, count, 16), Schedule(arrival_offsets=offsets))
    probe = LagProbe()
    records = execute(backend, _target(url), [warm, measured], None, None, probe)[1]
    lags = probe.lags_s(min(r.scheduled_ns for r in records), max(r.end_ns for r in records))
    health = assess(records, lags, HealthLimits(), {0: offsets[-1]}, rate)
    return health, sum(1 for r in records if not r.success)


def _sustains(backend: str, url: str, rate: float, seconds: float) -> tuple[bool, float, str]:
    """Keeps pace: no failure and no harness-health breach (sends on time, receive lag,
    completions keeping up with the schedule, achieved rate)."""
    health, failed = _open_loop(backend, url, rate, seconds)
    codes = "+".join(health.codes) or ("failures" if failed else "ok")
    return not health.codes and not failed, health.achieved_rate or 0.0, codes


def health_point(cpus: tuple[int, int] | None, backend: str, rate: float, seconds: float) -> None:
    """Print the health verdict of one uncapped open-loop point against the reference server."""
    with _server([sys.executable, __file__, "serve"], cpus[0] if cpus else None) as url:
        started = time.perf_counter()
        health, failed = _open_loop(backend, url, rate, seconds)
        took = time.perf_counter() - started
    print(
        f"{backend} open loop {rate:g} req/s for {seconds:g} s: "
        f"{'HARNESS-BOUND' if health.harness_bound else 'ok'} in {took:.1f} s wall, "
        f"achieved {health.achieved_rate or 0:.0f} req/s, lateness p99 "
        f"{_ms(health.lateness_p99_s)} max {_ms(health.lateness_max_s)} ms, receive lag p99 "
        f"{_ms(health.receive_lag_p99_s)} max {_ms(health.receive_lag_max_s)} ms, completion "
        f"span {health.completion_span_s or 0:.2f} s for a {health.schedule_span_s or 0:.2f} s "
        f"schedule (allowed {health.completion_allowance_s or 0:.2f} s), {failed} failed"
    )
    for reason in health.reasons:
        print(f"  - {reason}")


def capacity(cpus: tuple[int, int] | None, server: str, seconds: float) -> None:
    """Print the highest Poisson rate each backend sustains against `server`."""
    if server == "reference":
        command = [sys.executable, __file__, "serve"]
    else:
        command = [sys.executable, "-m", "cibench.sim", "--max-num-seqs", "4096"]
        command += ["--prefill-base-ms", "0", "--prefill-per-token-ms", "0"]
        command += ["--itl-base-ms", "0", "--itl-per-running-seq-ms", "0"]
    rates = (200, 400, 800, 1200, 1600, 2000, 2400, 3200, 4000, 5000, 6000, 8000, 10000, 12000)
    with _server(command, cpus[0] if cpus else None) as url:
        for backend in BACKENDS:
            best = 0.0
            shown = []
            for rate in rates:
                ok, achieved, codes = _sustains(backend, url, rate, seconds)
                shown.append(f"{rate}->{achieved:.0f}{'' if ok else f' ({codes})'}")
                if not ok:
                    break
                best = rate
            print(
                f"open-loop vs {server:<9} {backend:<15} sustains {best:>5.0f} req/s "
                f"(target->achieved: {', '.join(shown)})",
                flush=True,
            )


# ---- the reference server ------------------------------------------------------------------


def _event(payload: Mapping[str, object]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
_ROLE = _event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})


def _token(i: int) -> bytes:
    delta = {"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}
    return _event({"choices": [delta]})


def _tail(tokens: int) -> bytes:
    usage = {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": tokens}}
    return _chunk(_event(usage) + b"data: [DONE]\n\n") + b"0\r\n\r\n"


class _Connection:
    """One accepted socket, read with `recvmsg` so that each request carries the kernel's
    receive timestamp (SO_TIMESTAMPNS, inherited from the listener): the moment the request's
    bytes reached this machine, not the moment this one-core server got round to them. With
    1,024 requests arriving at once, the event loop reaches the last one tens of ms later; a
    server stamping that instead would hide its own intake queue from its TTFT and book it as
    the client's error."""

    def __init__(self, sock: socket.socket, server: _Reference) -> None:
        self.sock = sock
        self.server = server
        self.buffer = b""
        self.pending = b""
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(sock.fileno(), self.readable)

    def readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            self.close()
            return
        received = self.server.arrival_ns(ancillary)
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.server.answer(self, head, body, received)

    def write(self, data: bytes) -> None:
        if self.pending:
            self.pending += data
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return  # the client went away; its record says so
        if sent < len(data):
            self.pending = data[sent:]
            self.loop.add_writer(self.sock.fileno(), self.flush)

    def flush(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(self.pending)
        self.pending = self.pending[sent:]
        if not self.pending:
            self.loop.remove_writer(self.sock.fileno())

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        if self.pending:
            self.loop.remove_writer(self.sock.fileno())
        self.sock.close()


@dataclass(slots=True)
class _Stream:
    transport: _Connection
    index: int
    received: int
    token: int = 0
    first_sent: int = 0


class _Pacer:
    """One coroutine sending every due token: sleeps while the next is > 2 ms away, then
    yields to the loop until it is due, so tokens leave within microseconds of their time.
    Each stream holds one heap entry (its next token), so taking a request in costs one push."""

    def __init__(self, tokens: int, itl_ns: int) -> None:
        self.tokens = tokens
        self.itl_ns = itl_ns
        self.chunks = [_chunk(_ROLE + _token(0))] + [_chunk(_token(i)) for i in range(1, tokens)]
        self.tail = _tail(tokens)
        self.heap: list[tuple[int, int, _Stream]] = []
        self.wake = asyncio.Event()
        self.counter = 0
        self.log: list[str] = []

    def start(self, due: int, stream: _Stream) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (due, self.counter, stream))
        self.wake.set()

    async def run(self) -> None:
        heap = self.heap
        while True:
            if not heap:
                self.wake.clear()
                await self.wake.wait()
                continue
            remaining = heap[0][0] - time.perf_counter_ns()
            if remaining > 2_000_000:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), (remaining - 2_000_000) / 1e9)
                continue
            if remaining > 0:
                await asyncio.sleep(0)
                continue
            due, _, stream = heapq.heappop(heap)
            self._send(due, stream)

    def _send(self, due: int, stream: _Stream) -> None:
        stream.transport.write(self.chunks[stream.token])
        if stream.token == 0:
            stream.first_sent = time.perf_counter_ns()
        stream.token += 1
        if stream.token < self.tokens:
            self.counter += 1
            heapq.heappush(self.heap, (due + self.itl_ns, self.counter, stream))
            return
        stream.transport.write(self.tail)
        last = time.perf_counter_ns()
        self.log.append(f"{stream.index} {stream.first_sent} {stream.received} {last}\n")


class _Reference:
    """Accepts connections and answers requests: at once, or through the pacer, the first
    token due `ttft_ns` after the request's kernel receive time."""

    def __init__(self, pacer: _Pacer, ttft_ns: int) -> None:
        self.pacer = pacer
        self.ttft_ns = ttft_ns
        tokens = pacer.tokens
        self.instant = _HEAD + _chunk(_ROLE + b"".join(_token(i) for i in range(tokens)))
        self.instant += _tail(tokens)

    @staticmethod
    def arrival_ns(ancillary: list[tuple[int, int, bytes]]) -> int:
        """The request's kernel receive time on the perf_counter clock.

        Kernel timestamps are CLOCK_REALTIME; the pacer and the client use perf_counter
        (CLOCK_MONOTONIC on Linux). The two drift apart (on the CI-sized VM REALTIME is stepped
        by ~0.5 ms every ~0.1 s, 5 ms a second), so no offset taken once holds: the packet's
        age is measured on REALTIME now and taken off the monotonic now. A step between arrival
        and this read puts one step (~0.5 ms) into that request's figure."""
        now = time.perf_counter_ns()
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                seconds, nanoseconds = struct.unpack("qq", data[:16])
                age = time.time_ns() - (int(seconds) * 1_000_000_000 + int(nanoseconds))
                return now - max(age, 0)
        return now  # no kernel timestamp (not Linux): when we read it

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _Connection(sock, self)

    def answer(self, connection: _Connection, head: str, body: bytes, received: int) -> None:
        if head.startswith("get /health"):
            connection.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            return
        if not self.ttft_ns and not self.pacer.itl_ns:
            connection.write(self.instant)
            return
        found = re.search(rb"request (\d+) ", body)
        connection.write(_HEAD)
        stream = _Stream(connection, int(found.group(1)) if found else -1, received)
        self.pacer.start(received + self.ttft_ns, stream)


def serve(port: int, tokens: int, ttft_ms: float, itl_ms: float, log: str | None) -> None:
    """Stream `tokens` tokens per request: at once, or TTFT then one every ITL (paced).

    With `log`, each paced request's first-token send time, kernel receive time and last-token
    send time (perf_counter_ns, comparable across processes on Linux) are written there as
    `index first received last` lines at SIGTERM.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        pacer = _Pacer(tokens, int(itl_ms * 1e6))
        pacing = asyncio.create_task(pacer.run())
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        reference = _Reference(pacer, int(ttft_ms * 1e6))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # accepted sockets inherit it (Linux)
            listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(4096)  # 1,024 streams connect at once
        listener.setblocking(False)
        loop.add_reader(listener.fileno(), reference.accept, listener)
        await stop.wait()
        loop.remove_reader(listener.fileno())
        listener.close()
        pacing.cancel()
        if log:
            with open(log, "w") as handle:
                handle.writelines(pacer.log)

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "mode", nargs="?", default="all", choices=["all", "timing", "rate", "health", "serve"]
    )
    parser.add_argument("--backend", default="threading-pool", choices=BACKENDS)
    parser.add_argument("--rate", type=float, default=4800.0, help="health: target req/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="health: schedule length")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--itl-ms", type=float, default=0.0)
    parser.add_argument("--log", default=None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter rate steps")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port, args.tokens, args.ttft_ms, args.itl_ms, args.log)
        return
    cpus = _cpus()
    if cpus is not None:
        os.sched_setaffinity(0, {cpus[1]})
        print(f"server pinned to CPU {cpus[0]}, runner to CPU {cpus[1]}")
    else:
        print("one CPU only: server and runner share it (figures are pessimistic)")
    if args.mode in ("all", "timing"):
        for kind in ("reference", "simulator"):
            timing_error(cpus, kind, (1, 32, 64), 2 if args.quick else 4)
    if args.mode == "health":
        health_point(cpus, args.backend, args.rate, args.seconds)
        return
    if args.mode in ("all", "rate"):
        seconds = 2.0 if args.quick else 4.0
        capacity(cpus, "reference", seconds)
        capacity(cpus, "simulator", seconds)


if __name__ == "__main__":
    main()
