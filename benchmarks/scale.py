"""Scale of the perf runner: many streams from one process, and one schedule from N processes.

Run: `.venv/bin/python benchmarks/scale.py [streams|workers|all] [--streams 1024]
[--seconds 2]` (about two minutes in all). Servers are the ones of
`benchmarks/harness_overhead.py`: its timing-exact reference server and the simulator.

1. `streams`: closed loop, N concurrent streams (default 1,024) from one process on the asyncio
   backend, one request each after a warmup, TTFT 50 ms then 16 tokens 50 ms apart:
   - against the reference server, which logs when it received each request and when it sent
     its first token: error = our TTFT − the server's own TTFT (first token sent − request
     received), per request: median, p99, max;
   - against the simulator (jitter off): measured − configured TTFT (median, p99; includes the
     simulator's own lateness at that load), and our mean TTFT − the simulator's mean from
     its /metrics.
   Server and runner are pinned to one CPU each when the machine has two.
2. `workers`: the highest uncapped open-loop rate (asyncio, 16-token streamed outputs, zero
   latency reference server) that keeps a clean harness-health verdict (in one of two tries,
   so that another job's passing spike on a shared machine does not end the ladder), sent
   from 1 and from 2 processes (`cibench/perf/workers.py`: each process sends every other
   arrival of one schedule, on one clock). Nothing is pinned: the processes and the server
   share the CPUs.

The figures depend on the machine: on a 2-core host shared with other work, two client
processes and the server compete for the same two cores, so `workers` shows the mechanism
more than the scaling a host with spare cores gives.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness_overhead import _cpus, _read_sends, _requests, _server, _target

from cibench.client.record import RequestRecord
from cibench.perf.backends import execute
from cibench.perf.health import HealthLimits, assess
from cibench.perf.phase import Phase
from cibench.perf.probe import LagProbe
from cibench.perf.schedule import Schedule, fixed_offsets, poisson_offsets
from cibench.perf.server_metrics import server_metrics
from cibench.perf.stats import percentile, ttft_s
from cibench.perf.workers import execute_in_processes

TTFT_MS, ITL_MS, TOKENS = 50.0, 50.0, 32
HERE = str(Path(__file__).parent / "harness_overhead.py")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1e3:+.2f}"


def _steal_ms() -> dict[str, float]:
    """Hypervisor steal time so far per CPU, in ms (Linux /proc/stat, 10 ms ticks): time a
    virtual CPU was ready to run but the host ran something else. A client descheduled for a
    few ms timestamps the bytes waiting meanwhile that much late, whatever the harness does."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return {}
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    return {
        fields[0]: int(fields[8]) * tick_ms
        for fields in (line.split() for line in lines)
        if fields and fields[0].startswith("cpu") and fields[0] != "cpu" and len(fields) > 8
    }


def _steal_since(before: dict[str, float], cpus: tuple[int, ...]) -> str:
    after = _steal_ms()
    parts = [
        f"cpu{c} {after[f'cpu{c}'] - before[f'cpu{c}']:.0f} ms" for c in cpus if f"cpu{c}" in after
    ]
    return "steal " + (", ".join(parts) if parts else "n/a")


def _closed(
    url: str, streams: int, ramp_s: float, rounds: int, probe: LagProbe | None = None
) -> list[RequestRecord]:
    """Warm up, then `streams` closed-loop workers (started evenly over `ramp_s`) send
    `rounds` requests each."""
    offsets = tuple(i * ramp_s / streams for i in range(streams))
    warm = Phase(_requests(url, min(streams, 64), 2, 0), Schedule(tuple(fixed_offsets(64))))
    measured = Phase(_requests(url, streams * rounds, TOKENS, 1000), Schedule(offsets))
    return execute("asyncio", _target(url), [warm, measured], None, None, probe)[1]


def _reference_errors(ramp_s: float, streams: int, rounds: int, pin: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "sends.log")
        command = [sys.executable, HERE, "serve", "--tokens", str(TOKENS)]
        command += ["--ttft-ms", str(TTFT_MS), "--itl-ms", str(ITL_MS), "--log", log]
        probe = LagProbe()
        with _server(command, pin) as url:
            steal = _steal_ms()
            records = _closed(url, streams, ramp_s, rounds, probe)
            stolen = _steal_since(steal, tuple(sorted(os.sched_getaffinity(0))))
        sends = _read_sends(log)
    errors, transit, receive = [], [], []
    for record in records:
        sent = sends.get(1000 + record.index)
        ttft = ttft_s(record)
        if sent is None or ttft is None:
            continue
        first_sent, received, _ = sent
        errors.append(ttft - (first_sent - received) / 1e9)
        transit.append((received - record.start_ns) / 1e9)
        receive.append((record.token_ns[0] - first_sent) / 1e9)
    failed = sum(not r.success for r in records)
    lags = probe.lags_s(min(r.scheduled_ns for r in records), max(r.end_ns for r in records))
    print(
        f"reference, ramp {ramp_s:g} s, {rounds} rounds: TTFT error vs the server's own TTFT, "
        f"ms: median {_ms(percentile(errors, 50))} p99 {_ms(percentile(errors, 99))} "
        f"max {_ms(max(errors) if errors else None)} = request transit (median "
        f"{_ms(percentile(transit, 50))}, p99 {_ms(percentile(transit, 99))}) + first-token "
        f"receive (median {_ms(percentile(receive, 50))}, p99 {_ms(percentile(receive, 99))}); "
        f"{len(errors)} matched, {failed} failed; receive lag p99 {_ms(percentile(lags, 99))}; "
        f"runner's {stolen}",
        flush=True,
    )


def _simulator_errors(ramp_s: float, streams: int, rounds: int, pin: int | None) -> None:
    command = [sys.executable, "-m", "cibench.sim", "--max-num-seqs", str(max(streams, 64))]
    command += ["--prefill-base-ms", str(TTFT_MS), "--prefill-per-token-ms", "0"]
    command += ["--itl-base-ms", str(ITL_MS), "--itl-per-running-seq-ms", "0", "--jitter", "0"]
    with _server(command, pin) as url:
        before = httpx.get(f"{url}/metrics").text
        records = _closed(url, streams, ramp_s, rounds)
        after = httpx.get(f"{url}/metrics").text
    ttfts = [v for r in records if (v := ttft_s(r)) is not None]
    server_ttft = server_metrics(before, after, len(records)).ttft_s
    over = [v - TTFT_MS / 1e3 for v in ttfts]
    mean_error = sum(ttfts) / len(ttfts) - server_ttft if ttfts and server_ttft else None
    print(
        f"simulator, ramp {ramp_s:g} s, {rounds} rounds: measured - configured TTFT, ms: median "
        f"{_ms(percentile(over, 50))} p99 {_ms(percentile(over, 99))}; our mean TTFT - the "
        f"simulator's own mean (/metrics) {_ms(mean_error)}; server TTFT mean "
        f"{_ms(server_ttft)} ({sum(not r.success for r in records)} failed)",
        flush=True,
    )


def streams_fidelity(streams: int) -> None:
    """Print TTFT error at `streams` concurrent streams against both servers: all streams
    started at once (lock step, the worst case), and started over 1 s then two requests each
    (the second round runs with every stream in flight, out of step)."""
    cpus = _cpus()
    if cpus is not None:
        os.sched_setaffinity(0, {cpus[1]})
    pin = cpus[0] if cpus else None
    print(
        f"\n{streams} concurrent streams, one process (asyncio), TTFT {TTFT_MS:g} ms, "
        f"{TOKENS} tokens {ITL_MS:g} ms apart; {'pinned' if cpus else 'unpinned'}"
    )
    for ramp_s, rounds in ((0.0, 1), (1.0, 2)):
        _reference_errors(ramp_s, streams, rounds, pin)
    for ramp_s, rounds in ((0.0, 1), (1.0, 2)):
        _simulator_errors(ramp_s, streams, rounds, pin)


def _open_point(url: str, rate: float, seconds: float, workers: int) -> tuple[bool, float, str]:
    count = max(50, int(rate * seconds))
    offsets = tuple(poisson_offsets(count, rate, seed=1))
    warm = Phase(_requests(url, 32, 16), Schedule(tuple(fixed_offsets(8))))
    measured = Phase(_requests(url, count, 16), Schedule(arrival_offsets=offsets))
    if workers == 1:
        probe = LagProbe()
        records = execute("asyncio", _target(url), [warm, measured], None, None, probe)[1]
    else:
        execute("asyncio", _target(url), [warm])
        results, probe = execute_in_processes("asyncio", _target(url), [measured], workers, 60.0)
        records = results[0]
    lags = probe.lags_s(min(r.scheduled_ns for r in records), max(r.end_ns for r in records))
    health = assess(records, lags, HealthLimits(), {0: offsets[-1]}, rate)
    failed = sum(not r.success for r in records)
    codes = "+".join(health.codes) or ("failures" if failed else "ok")
    return not health.codes and not failed, health.achieved_rate or 0.0, codes


def workers_rate(seconds: float) -> None:
    """Print the highest open-loop rate kept from 1 and from 2 processes."""
    rates = (800, 1600, 2400, 3200, 4000, 4800, 6400, 8000)
    print(
        f"\nopen loop (asyncio, uncapped, {seconds:g} s per rate) vs the zero-latency "
        f"reference server, unpinned, {os.cpu_count()} CPUs"
    )
    with _server([sys.executable, HERE, "serve"], None) as url:
        for workers in (1, 2):
            best, shown = 0.0, []
            for rate in rates:
                ok, achieved, codes = _open_point(url, rate, seconds, workers)
                if not ok:  # a shared machine's passing spike: one more try at this rate
                    ok, achieved, codes = _open_point(url, rate, seconds, workers)
                shown.append(f"{rate}->{achieved:.0f}{'' if ok else f' ({codes})'}")
                if not ok:
                    break
                best = rate
            print(
                f"workers {workers}: keeps {best:>5.0f} req/s (target->achieved: "
                f"{', '.join(shown)})",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "streams", "workers"])
    parser.add_argument("--streams", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), f"load {os.getloadavg()}")
    if args.mode in ("all", "workers"):
        workers_rate(args.seconds)
    if args.mode in ("all", "streams"):
        streams_fidelity(args.streams)


if __name__ == "__main__":
    main()
