"""Print the mutation kill table: which buggy server releases the functional suite catches.

Run from the repository root: `.venv/bin/python -m benchmarks.mutation [--only NAME ...]`
(`make mutation`; about two minutes on two cores). One simulator (the local-sim scenario's
arguments, latency off) and one proxy serve every mutant at once, each under its own path
prefix. First the control (no mutant) must pass every case; its probe findings are the
capability baseline, as in CI. Then, for each mutant, the probe runs and the cases run in
suite order until one fails: that case kills the mutant. A mutant no case fails survives.
Exit status 1 when the control fails a case or the kill rate is under `--target`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.mutation.mutants import MUTANTS, Mutant
from cibench.config.functional import FunctionalCase
from cibench.config.loader import load_configs
from cibench.config.scenario import Features
from cibench.functional.capabilities import Capabilities, probe
from cibench.functional.capability_baseline import CapabilityBaseline
from cibench.functional.schemas import SchemaSet
from cibench.functional.stage import Server, evaluate_case
from cibench.launch.process import free_port, terminate
from cibench.sim.testing import run_simulator

REPO = Path(__file__).resolve().parents[2]
MODEL = "sim-qwen-mini"
SIM_ARGS = (
    "--model", "sim/qwen-mini", "--served-model-name", MODEL, "--seed", "0", "--reasoning",
    "--max-num-seqs", "64", "--prefill-base-ms", "0", "--prefill-per-token-ms", "0",
    "--itl-base-ms", "0", "--itl-per-running-seq-ms", "0",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Kill:
    """How one mutant fared: the case that killed it (None: survived) and why."""

    mutant: Mutant
    killed_by: str | None
    reason: str
    cases_run: int


def all_cases() -> list[tuple[str, FunctionalCase]]:
    """Every case of every suite, `suite::id` first, in suite file order."""
    configs = load_configs(REPO / "configs")
    return [
        (f"{suite.suite}::{case.id}", case)
        for suite in configs.functional_suites
        for case in suite.cases
    ]


@contextmanager
def running_proxy(upstream: str) -> Iterator[str]:
    """Start the proxy in a subprocess; yield its base URL."""
    port = free_port("127.0.0.1")
    argv = [sys.executable, "-m", "benchmarks.mutation.serve", upstream, str(port)]
    proc = subprocess.Popen(argv, cwd=REPO, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{url}/m/none/health", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the mutation proxy did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        terminate(proc)


def server_view(
    client: httpx.Client, schemas: SchemaSet, baseline: CapabilityBaseline | None
) -> Server:
    caps: Capabilities = probe(client, "mutation", MODEL, schemas)
    return Server(MODEL, Features(), caps, schemas, declared_in=None, baseline=baseline)


def hunt(
    proxy: str, mutant: Mutant, cases: list[tuple[str, FunctionalCase]], schemas: SchemaSet,
    baseline: CapabilityBaseline,
) -> Kill:  # fmt: skip
    """Run the cases through `mutant` until one fails."""
    with httpx.Client(base_url=f"{proxy}/m/{mutant.name}", timeout=60) as client:
        server = server_view(client, schemas, baseline)
        for number, (case_id, case) in enumerate(cases, start=1):
            outcome = evaluate_case(client, case, server)
            if outcome.status == "fail":
                return Kill(mutant, case_id, outcome.failures[0], number)
    return Kill(mutant, None, "", len(cases))


def control(
    proxy: str, cases: list[tuple[str, FunctionalCase]], schemas: SchemaSet
) -> tuple[CapabilityBaseline, list[str]]:
    """The unmutated server: its probe is the capability baseline; every case must pass."""
    with httpx.Client(base_url=f"{proxy}/m/none", timeout=60) as client:
        server = server_view(client, schemas, None)
        problems = []
        for case_id, case in cases:
            outcome = evaluate_case(client, case, server)
            if outcome.status != "pass":
                problems.append(f"{case_id}: {outcome.status}: {outcome.reason[:300]}")
    findings = dict(server.capabilities.findings)
    return CapabilityBaseline("the control run", findings), problems


def table(kills: list[Kill]) -> list[str]:
    """The kill table as Markdown."""
    lines = ["| mutant | category | bug | killed by |", "| --- | --- | --- | --- |"]
    for kill in kills:
        killer = f"`{kill.killed_by}`" if kill.killed_by else "**survived**"
        lines.append(
            f"| `{kill.mutant.name}` | {kill.mutant.category} | {kill.mutant.bug} | {killer} |"
        )
    killed = sum(1 for k in kills if k.killed_by)
    lines.append("")
    lines.append(f"killed {killed} of {len(kills)} mutants ({100 * killed / len(kills):.1f} %)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="mutant names (default: all)")
    parser.add_argument("--target", type=float, default=95.0, help="minimum kill rate, percent")
    parser.add_argument("--workers", type=int, default=4, help="mutants hunted at once")
    parser.add_argument("--reasons", action="store_true", help="print each killing failure")
    args = parser.parse_args(argv)
    chosen = [MUTANTS[name] for name in args.only] if args.only else list(MUTANTS.values())
    cases = all_cases()
    schemas = SchemaSet.load()
    started = time.monotonic()
    with run_simulator(*SIM_ARGS) as upstream, running_proxy(upstream) as proxy:
        baseline, problems = control(proxy, cases, schemas)
        if problems:
            print("the control run fails cases; no kill table:", *problems, sep="\n  ")
            return 1
        with ThreadPoolExecutor(args.workers) as pool:
            kills = list(pool.map(lambda m: hunt(proxy, m, cases, schemas, baseline), chosen))
    print("\n".join(table(kills)))
    if args.reasons:
        for kill in kills:
            where = f"{kill.killed_by} ({kill.cases_run} cases)"
            print(f"{kill.mutant.name}: {where}: {kill.reason[:240]}")
    print(f"({len(cases)} cases, {time.monotonic() - started:.0f} s)")
    rate = 100 * sum(1 for k in kills if k.killed_by) / len(kills)
    return 0 if rate >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
