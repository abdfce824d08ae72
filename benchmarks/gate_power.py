"""Measure the regression gates' power: false alarms on A/A pairs, detection of injected slowdowns.

Run: `.venv/bin/python benchmarks/gate_power.py [--target sim|llamacpp|both] [--n N]
[--kinds 'A/A,+15% latency'] [--interleaved] [--sim-requests 100] [--llama-requests 100]
[--llama-output 8]`
(sim, N=20, two kinds: about 9 minutes on a busy 2-core machine, 3 on a quiet one; a
llama.cpp trial, 1.5-3 minutes at 40 requests; figures in docs/figures.md "Gate power").

Each trial measures a baseline run (a fresh server, written as a daily run directory) and a
candidate run (another fresh server) of one load point of the shipped `pr` profile (the c4
point: 100 requests), then gates the candidate exactly as a PR run does: the perf stage's
`Confirmer` re-measures an inconclusive or failing point once, and the post-session rules decide
on the pooled records. Kinds of trial:

- `A/A`: both servers identical: any regression gate FAILING is a false alarm;
- `+15% latency` (simulator `--slowdown 1.15`): detected when TTFT P99 or E2E P99 FAILS;
- `-10% throughput` (`--slowdown 1.111`, closed loop: QPS x 0.9): detected when QPS FAILS;
- every kind also counts "PR failed": any of the three regression gates FAILING, which is what
  a team sees (a slower server is also a lower closed-loop QPS, so a latency regression can
  fail the PR through QPS while its P99 intervals are still INCONCLUSIVE);
- llama.cpp (`local-llamacpp`), both servers behind the slowdown proxy
  (`cibench.engines.slowdown`, the engine's `--slowdown`), so that the two differ only in the
  factor: `A/A` (x1.0 on both) and `+30% latency` (x1.3 on the candidate: every response's
  timing stretched by 1.3), on one load point of the `llamacpp` profile's shape made big enough
  for the P99 gate: concurrency 1, 64-token prompts, `--llama-output` (8) output tokens,
  `--llama-requests` (100) requests (the shipped profile's 4 requests per worker leave a P99
  gate always INCONCLUSIVE, "low confidence").

With `--interleaved` the confirmation is the interleaved A/B test that
`gates.confirm.baseline_scenario` makes of it in a PR run: a fresh server of the baseline
scenario beside the candidate's, the point's requests in `gates.confirm.blocks` blocks measured
on both in ABBA order with the same prompts, and the verdict decided on those blocks alone.

The simulator runs with `--jitter 0.1` (every interval x U[0.9, 1.1]) so that requests vary.
Prints per kind: trials, FAIL / INCONCLUSIVE / PASS counts, re-measured count, and the rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from cibench.artifacts import RunWriter, SessionFile, SessionScenario, read_run
from cibench.config.loader import load_configs
from cibench.config.perf import LoadPoint, PerfProfile
from cibench.config.scenario import Scenario
from cibench.config.settings import Settings
from cibench.gates.baseline import from_artifacts, with_remeasured_baseline
from cibench.gates.confirm import Confirmer, Remeasurement, describe, measuring
from cibench.gates.rules import evaluate
from cibench.gates.samples import load_run_samples
from cibench.launch import Endpoint, open_endpoint
from cibench.perf.runner import RunTarget, run_point

REPO = Path(__file__).resolve().parents[1]
LATENCY_GATES = ("ttft_p99", "e2e_p99")


@dataclass(frozen=True)
class Kind:
    name: str
    slowdown: float
    detect: tuple[str, ...]
    """Gates whose FAIL counts as detection; empty = A/A (any FAIL is a false alarm)."""


SIM_KINDS = (
    Kind("A/A", 1.0, ()),
    Kind("+15% latency", 1.15, LATENCY_GATES),
    Kind("-10% throughput", 1 / 0.9, ("qps",)),
)
LLAMA_KINDS = (
    Kind("A/A", 1.0, ()),
    Kind("+30% latency", 1.3, LATENCY_GATES),
)


def with_args(scenario: Scenario, **args: float) -> Scenario:
    return scenario.model_copy(update={"args": {**scenario.args, **args}})


def write_session(run_dir: Path, run_type: str, scenario: str) -> None:
    session = SessionFile(
        run_id=run_dir.name,
        run_type=run_type,
        end=time.time(),
        scenarios={scenario: SessionScenario(stages=["perf"])},
    )
    RunWriter(run_dir).finish(session)


@contextmanager
def served(scenario: Scenario, log_dir: Path) -> Iterator[Endpoint]:
    with open_endpoint(scenario, log_dir) as endpoint:
        yield endpoint


def measure(
    scenario: Scenario,
    profile: PerfProfile,
    point: LoadPoint,
    run_dir: Path,
    run_type: str,
    confirmer: Confirmer | None = None,
    baseline_scenario: Scenario | None = None,
) -> bool:
    """One run of `point` into `run_dir`; with a confirmer, the PR flow's confirmation too
    (interleaved with a measurement on `baseline_scenario` when given, as
    `gates.confirm.baseline_scenario` does). Returns whether a re-measurement happened."""
    write_session(run_dir, run_type, scenario.id)
    writer = RunWriter(run_dir).scenario(scenario.id)
    with ExitStack() as stack:
        endpoint = stack.enter_context(served(scenario, writer.directory))
        target = RunTarget.from_endpoint(endpoint)
        outcome = run_point(target, profile, point, writer)
        if confirmer is None:
            return False

        baseline_server: list[Endpoint] = []  # started at the first block, kept for the rest

        def remeasure_baseline(job: Remeasurement) -> object:
            assert baseline_scenario is not None
            if not baseline_server:
                log_dir = run_dir / "baseline-server"
                baseline_server.append(stack.enter_context(served(baseline_scenario, log_dir)))
            return measuring(target.with_server(baseline_server[0]), profile, point)(job)

        lines = confirmer.after_point(
            scenario.id,
            outcome.summary_csv,
            outcome.requests_csv,
            outcome.summary.duration_s,
            measuring(target, profile, point),
            remeasure_baseline if baseline_scenario is not None else None,
        )
    return any("re-measured" in line and "not re-measured" not in line for line in lines)


def trial(
    kind: Kind,
    base: Scenario,
    profile: PerfProfile,
    point: LoadPoint,
    root: Path,
    settings: Settings,
    interleaved: bool = False,
) -> tuple[str, bool, bool, str]:
    """One baseline/candidate pair; returns (outcome of the watched gates, re-measured, whether
    any regression gate failed, the watched verdicts)."""
    base_dir, cand_dir = root / "base", root / "cand"
    measure(base, profile, point, base_dir, "daily")
    candidate = with_args(base, slowdown=kind.slowdown) if kind.slowdown != 1.0 else base
    confirmer = Confirmer(
        settings=settings,
        run_type="pr",
        source=str(base_dir),
        pushgateway_url=None,
        run_dir=cand_dir,
        environ={},
    )
    on_base = base if interleaved else None
    remeasured = measure(candidate, profile, point, cand_dir, "pr", confirmer, on_base)
    run = read_run(cand_dir)
    baseline = with_remeasured_baseline(from_artifacts(base_dir, scenarios=[base.id]), run)
    verdicts = [
        v
        for v in evaluate(run, baseline, settings.gates, load_run_samples(run))
        if v.gate in ("ttft_p99", "e2e_p99", "qps")
    ]
    watched = [v for v in verdicts if not kind.detect or v.gate in kind.detect]
    short = "  ".join(describe(v) for v in watched)
    pr_failed = any(v.failed for v in verdicts)
    if any(v.failed for v in watched):
        return "fail", remeasured, pr_failed, short
    if any(v.status == "inconclusive" for v in watched):
        return "inconclusive", remeasured, pr_failed, short
    return "pass", remeasured, pr_failed, short


def run_kinds(
    label: str,
    kinds: tuple[Kind, ...],
    scenario: Scenario,
    profile: PerfProfile,
    point: LoadPoint,
    n: int,
    settings: Settings,
    interleaved: bool = False,
) -> None:
    print(
        f"\n{label}: load point {point.id}, {point.num_requests} requests, n={n} per kind",
        flush=True,
    )
    for kind in kinds:
        counts: Counter[str] = Counter()
        again = failed_prs = 0
        started = time.monotonic()
        for index in range(n):
            with tempfile.TemporaryDirectory(prefix="gate-power-") as tmp:
                outcome, remeasured, pr_failed, short = trial(
                    kind, scenario, profile, point, Path(tmp), settings, interleaved
                )
            counts[outcome] += 1
            again += remeasured
            failed_prs += pr_failed
            print(
                f"  {kind.name:<16} trial {index + 1}/{n}: {outcome}"
                f"{' (re-measured)' if remeasured else ''}{' (PR failed)' if pr_failed else ''}"
                f": {short}",
                flush=True,
            )
        rate = counts["fail"] / n
        what = "false alarms" if not kind.detect else "detected"
        print(
            f"{label} {kind.name:<16} FAIL {counts['fail']:>2}  INCONCLUSIVE "
            f"{counts['inconclusive']:>2}  PASS {counts['pass']:>2}  re-measured {again:>2}  "
            f"-> {what} {counts['fail']}/{n} ({rate:.0%}), PR failed {failed_prs}/{n}  "
            f"[{time.monotonic() - started:.0f} s]",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("sim", "llamacpp", "both"), default="sim")
    parser.add_argument(
        "--n", type=int, default=None, help="trials per kind (default 20 for sim, 10 for llamacpp)"
    )
    parser.add_argument("--jitter", type=float, default=0.1)
    parser.add_argument(
        "--sim-requests",
        type=int,
        default=None,
        help="sim: measured requests per run (default: the pr profile's, 100)",
    )
    parser.add_argument(
        "--llama-requests", type=int, default=100, help="llamacpp: measured requests per run"
    )
    parser.add_argument(
        "--llama-output", type=int, default=8, help="llamacpp: output tokens per request"
    )
    parser.add_argument(
        "--kinds",
        default=None,
        help="comma-separated kinds to run, by name (e.g. 'A/A,+15%% latency'; default: all)",
    )
    parser.add_argument(
        "--confirm-budget",
        type=float,
        default=None,
        help="gates.confirm.budget_seconds for the trials (default: configs/settings.yaml's, "
        "60 s; a llama.cpp point of 100 requests takes about that long, so raise it there as "
        "a team with a slow engine would)",
    )
    parser.add_argument(
        "--interleaved",
        action="store_true",
        help="confirm as with gates.confirm.baseline_scenario: an interleaved A/B test of the "
        "point on a fresh baseline server and the candidate, in ABBA blocks",
    )
    args = parser.parse_args()
    wanted = None if args.kinds is None else {k.strip() for k in args.kinds.split(",")}
    known = {kind.name for kind in (*SIM_KINDS, *LLAMA_KINDS)}
    if wanted is not None and not wanted <= known:
        parser.error(f"--kinds: unknown {sorted(wanted - known)}; known: {sorted(known)}")

    def chosen(kinds: tuple[Kind, ...]) -> tuple[Kind, ...]:
        return tuple(k for k in kinds if wanted is None or k.name in wanted)

    configs = load_configs(REPO / "configs")
    settings = configs.settings
    if args.confirm_budget is not None:
        confirm = settings.gates.confirm.model_copy(update={"budget_seconds": args.confirm_budget})
        gates = settings.gates.model_copy(update={"confirm": confirm})
        settings = settings.model_copy(update={"gates": gates})
    if args.target in ("sim", "both"):
        profile = configs.perf_profiles["pr"]
        point = next(p for p in profile.load_points() if p.concurrency == 4)
        if args.sim_requests is not None:
            point = replace(point, num_requests=args.sim_requests)
        sim = with_args(configs.scenario("local-sim"), jitter=args.jitter)
        n = args.n or 20
        run_kinds(
            "local-sim", chosen(SIM_KINDS), sim, profile, point, n, settings, args.interleaved
        )
    if args.target in ("llamacpp", "both"):
        profile = configs.perf_profiles["llamacpp"]
        shape = profile.load_points()[0]
        point = LoadPoint(
            shape.input_length, args.llama_output, concurrency=1, num_requests=args.llama_requests
        )
        # the proxy in front of both servers: baseline and candidate differ only in its factor
        llama = with_args(configs.scenario("local-llamacpp"), slowdown=1.0)
        n = args.n or 10
        run_kinds(
            "local-llamacpp",
            chosen(LLAMA_KINDS),
            llama,
            profile,
            point,
            n,
            settings,
            args.interleaved,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
