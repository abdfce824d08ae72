"""`cibench perf --scenario ID [--profile pr]`: run a perf profile outside pytest.

Also `cibench perf --provider ID --providers FILE` for an acs-bench providers.yaml entry.
Runs through the same session and server pool as `pytest -m perf`, so the run directory
`<artifacts>/<run_id>/` is complete (`session.json`, `run.json`, the perf CSVs) and
`cibench gate RUN` / `cibench push RUN` accept it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cibench.artifacts import ScenarioWriter
from cibench.cli.common import add_run_arguments, cli_options, stage_run
from cibench.config.loader import load_configs, parse_model, read_yaml
from cibench.config.perf import LoadPoint, PerfProfile
from cibench.config.providers import Providers
from cibench.config.scenario import Scenario
from cibench.errors import CibenchError, ConfigError
from cibench.failures.logscan import load_patterns
from cibench.perf.runner import PointOutcome, RunTarget, run_point

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-command's own options (`--configs` and `--artifacts` come from `cibench.cli`)."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--scenario", help="scenario id (configs/scenarios/ID.yaml)")
    target.add_argument("--provider", help="provider id of an acs-bench providers.yaml")
    parser.add_argument(
        "--providers",
        type=Path,
        default=None,
        help="providers.yaml holding --provider (default: <configs>/providers.yaml)",
    )
    parser.add_argument(
        "--profile",
        default="pr",
        help="perf profile name (configs/tests/perf/profiles/NAME.yaml; default pr)",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--backend",
        choices=["threading-pool", "asyncio"],
        default=None,
        help="override the profile's backend",
    )


def _provider(path: Path, provider_id: str) -> tuple[Scenario, str | None]:
    problems: list[str] = []
    providers = parse_model(path, read_yaml(path, problems), Providers, problems)
    if providers is None:
        raise ConfigError(problems or [f"{path}: cannot read providers"])
    for provider in providers.providers:
        if provider.id == provider_id:
            key = provider.api_key.strip()
            return provider.as_scenario(), None if key in ("", "EMPTY") else key
    known = ", ".join(p.id for p in providers.providers) or "none"
    raise ConfigError([f"{path}: no provider with id '{provider_id}' (have: {known})."])


def _profile(configs_root: Path, profiles: dict[str, PerfProfile], name: str) -> PerfProfile:
    profile = profiles.get(name)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            [
                f"{configs_root / 'tests/perf/profiles'}: no profile '{name}.yaml' "
                f"(have: {known}). Pass --profile NAME."
            ]
        )
    return profile


def _line(outcome: PointOutcome) -> str:
    summary = outcome.summary

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 1e3:.1f}"

    return (
        f"{outcome.point.id:<22} {summary.successes:>5}/{summary.requests:<5} "
        f"TTFT p50/p99 {ms(summary.ttft.at(50.0) if summary.ttft else None)}/"
        f"{ms(summary.ttft.at(99.0) if summary.ttft else None)} ms  "
        f"TPOT p50 {ms(summary.tpot.at(50.0) if summary.tpot else None)} ms  "
        f"QPS {summary.qps or 0:.2f}"
    )


def run(args: argparse.Namespace) -> int:
    """Start or reach the target, run every load point: 0 all pass, 1 some fail, 2 error."""
    try:
        configs = load_configs(cli_options(args).configs_dir)
        profile = _profile(configs.root, configs.perf_profiles, args.profile)
        if args.backend:
            profile = profile.model_copy(update={"backend": args.backend})
        scenario: Scenario | None = None
        api_key: str | None = None
        if args.provider:
            scenario, api_key = _provider(
                args.providers or configs.root / "providers.yaml", args.provider
            )
        failed = 0
        outcome: PointOutcome | None = None
        with stage_run(args, "perf", args.scenario, scenario, api_key) as run:
            endpoint = run.endpoint
            print(f"run: {run.session.run_dir}", flush=True)
            target = RunTarget(
                endpoint.base_url,
                endpoint.model,
                run.scenario.id,
                run.scenario.id,
                endpoint.api_key,
                process=endpoint.process,
                log_patterns=tuple(load_patterns(configs.root)),
            )
            for point in profile.load_points():
                if profile.soak is not None:
                    failed += _soak(target, profile, point, run.writer)
                    continue
                if profile.search is not None or profile.ladder is not None:
                    failed += _capacity(target, profile, point, run.writer)
                    continue
                outcome = run_point(
                    target,
                    profile,
                    point,
                    run.writer,
                    report=lambda text: print(f"  {text}", flush=True),
                )
                problems = outcome.problems(profile.max_failure_ratio)
                print(("FAIL " if problems else "ok   ") + _line(outcome), flush=True)
                for problem in problems + outcome.notes:
                    print(f"       - {problem}")
                failed += bool(problems)
    except CibenchError as exc:
        print(f"cibench perf: {exc}", file=sys.stderr)
        return 2
    if outcome is not None:
        print(f"summary: {outcome.summary_csv}")
    return 1 if failed else 0


def _capacity(
    target: RunTarget, profile: PerfProfile, point: LoadPoint, writer: ScenarioWriter
) -> bool:
    """Run one SLO search or ladder, print its answer; True when it found none to stand by."""
    from cibench.capacity.driver import run_search
    from cibench.capacity.ladder import run_ladder

    run = run_search if profile.search is not None else run_ladder
    result = run(
        target,
        profile,
        point.input_length,
        point.output_length,
        writer,
        report=lambda text: print(f"  {text}", flush=True),
    )
    failed = not result.converged or result.capacity is None
    print(("FAIL " if failed else "ok   ") + result.describe(), flush=True)
    print(f"       capacity: {result.capacity_csv}")
    return failed


def _soak(
    target: RunTarget, profile: PerfProfile, point: LoadPoint, writer: ScenarioWriter
) -> bool:
    """Run one soak, print its verdict; True when a metric drifted."""
    from cibench.capacity.soak import run_soak

    result = run_soak(
        target,
        profile,
        point.input_length,
        point.output_length,
        writer,
        report=lambda text: print(f"  {text}", flush=True),
    )
    print(("FAIL " if result.drifted else "ok   ") + result.verdict(), flush=True)
    print(f"       soak: {result.soak_csv}")
    return bool(result.drifted)
