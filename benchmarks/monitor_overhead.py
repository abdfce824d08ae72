"""Measure what resource sampling costs: CPU of the sampling thread, in percent of one core.

Run: `.venv/bin/python benchmarks/monitor_overhead.py [--seconds 20]` (about a minute).
A simulator runs as a local server (its process tree and /metrics are sampled, as in a
`local` scenario) under a steady closed-loop load from a separate process, so its gauges and
its process tree are live. The sampler runs in this process at 1 s (the default) and at
0.1 s; two figures per interval:

- `thread`: the sampler thread's own CPU time (`time.thread_time`) over wall time;
- `process`: this process's CPU time over wall time (the sampler is the only thing it runs),
  which also counts the interpreter's overhead for the thread.

Target: under 1 % of one core at the 1 s default.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from cibench.monitor.sampler import ResourceSampler
from cibench.sim.testing import run_simulator

LOAD = """
import sys, httpx, threading
url = sys.argv[1]
body = {"model": "sim-model", "max_tokens": 64, "ignore_eos": True,
        "messages": [{"role": "user", "content": "hello"}]}
def worker():
    with httpx.Client(timeout=30) as client:
        while True:
            client.post(url + "/v1/chat/completions", json=body)
for _ in range(8):
    threading.Thread(target=worker, daemon=True).start()
threading.Event().wait()
"""


def measure(base_url: str, pid: int | None, interval_s: float, seconds: float) -> str:
    """Sample for `seconds`; the sampler's CPU share of one core, two ways."""
    cpu_before, wall_before = time.process_time(), time.monotonic()
    with ResourceSampler(interval_s, pid, base_url) as sampler:
        time.sleep(seconds)
    wall = time.monotonic() - wall_before
    process = 100.0 * (time.process_time() - cpu_before) / wall
    samples = sampler.timeline.samples
    thread = sum(values["monitor_cpu_percent"] for _, values in samples) / len(samples)
    gauges = sum(1 for _, values in samples if "server_running_requests" in values)
    return (
        f"interval {interval_s:>4} s: {len(samples):>4} samples ({gauges} with /metrics), "
        f"thread {thread:.3f} % of a core, process {process:.3f} % of a core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with run_simulator("--itl-base-ms", "5") as base_url:
        pid = int(subprocess.check_output(["pgrep", "-n", "-f", "cibench.sim"]).split()[0])
        load = subprocess.Popen([sys.executable, "-c", LOAD, base_url])
        try:
            time.sleep(1.0)
            for interval in (1.0, 0.1):
                print(measure(base_url, pid, interval, args.seconds), flush=True)
        finally:
            load.kill()
            load.wait()


if __name__ == "__main__":
    main()
