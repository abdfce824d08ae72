"""`cibench perf --scenario ID [--profile pr]`: run a perf profile outside pytest.

Also `cibench perf --provider ID --providers FILE` for an acs-bench providers.yaml entry.
Runs through the same session and server pool as `pytest -m perf`, so the run directory
`<artifacts>/<run_id>/` is complete (`session.json`, `run.json`, the perf CSVs) and
`cibench gate RUN` / `cibench push RUN` accept it. One-off runs need no scenario or profile file:
`cibench perf --scenario http://127.0.0.1:8000 --concurrency 4 --num-requests 20
[--input-len 128 --output-len 128 --rate R --arrival constant|poisson|gamma --burstiness B]`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from cibench.artifacts import ScenarioWriter
from cibench.cli.common import add_run_arguments, cli_options, stage_run
from cibench.config.loader import load_configs, parse_model, read_yaml
from cibench.config.options import BY_FIELD
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
    target.add_argument(
        "--scenario",
        help="scenario id (configs/scenarios/ID.yaml) or a server's base URL such as "
        "http://127.0.0.1:8000 (no scenario file needed; key from $CIBENCH_API_KEY if set)",
    )
    target.add_argument("--provider", help="provider id of an acs-bench providers.yaml")
    parser.add_argument(
        "--providers",
        type=Path,
        default=None,
        help="providers.yaml holding --provider (default: <configs>/providers.yaml)",
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="perf profile name (configs/tests/perf/profiles/NAME.yaml); default: pr for a "
        "scenario id, a one-off profile from the load options below for a URL",
    )
    parser.add_argument(
        "--model", default=None, help="model name for a URL (default: the first GET /v1/models)"
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--backend",
        choices=["threading-pool", "asyncio"],
        default=None,
        help="override the profile's backend",
    )
    load = parser.add_argument_group(
        "one-off load (override a named profile's keys, or build a profile without any file)"
    )
    for flag, key, kind, text in ONE_OFF_OPTIONS:
        metavar, _, described = text.partition(" ")
        load.add_argument(flag, dest=key, type=kind, default=None, metavar=metavar, help=described)
    load.add_argument(
        "--arrival",
        choices=["constant", "poisson", "gamma"],
        default=None,
        help="open-loop arrival process (with --rate; default poisson)",
    )


ONE_OFF_OPTIONS: tuple[tuple[str, str, type, str], ...] = (
    ("--concurrency", "concurrency", int, "N workers (closed loop), or the in-flight cap"),
    ("--num-requests", "num_requests", int, "N measured requests"),
    ("--input-len", "input_length", int, "TOKENS per prompt (default 128)"),
    ("--output-len", "output_length", int, "TOKENS per output (default 128)"),
    ("--rate", "request_rate", float, "REQ/S open loop at this rate"),
    ("--burstiness", "burstiness", float, "B gamma shape (1 = poisson, < 1 burstier)"),
    ("--workers", "workers", int, "N client processes sharing the schedule (default 1)"),
)
"""Flag, profile key, type and help of every one-off load option (`--arrival` aside)."""

ONE_OFF_DEFAULTS: dict[str, object] = {"input_length": [128], "output_length": [128]}
"""What a one-off profile starts from before its flags apply (every other key: its default)."""


def one_off_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The profile keys the load options set (lists where the profile takes a list)."""
    found: dict[str, object] = {}
    for _, key, _, _ in ONE_OFF_OPTIONS:
        value = getattr(args, key, None)
        if value is None:
            continue
        found[key] = [value] if key in ("concurrency", "input_length", "output_length") else value
    if getattr(args, "arrival", None):
        found["arrival"] = args.arrival
    if "request_rate" in found:
        found["request_rate"] = [found["request_rate"]]
        found["control_method"] = "poisson"
    if getattr(args, "backend", None):
        found["backend"] = args.backend
    return found


def one_off_profile(base: PerfProfile | None, overrides: dict[str, object]) -> PerfProfile:
    """`base` (a named profile, or the one-off defaults) with the command line's keys applied."""
    fields = base.model_dump(exclude_unset=True) if base is not None else dict(ONE_OFF_DEFAULTS)
    fields.update(overrides)
    try:
        return PerfProfile.model_validate(fields)
    except ValidationError as exc:
        flags = {key: flag for flag, key, _, _ in ONE_OFF_OPTIONS}
        problems = [
            f"{flags.get(str(error['loc'][0]), str(error['loc'][0])) if error['loc'] else ''}: "
            f"{error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigError([f"cibench perf options: {problem}" for problem in problems]) from None


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


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
        url = args.scenario if args.scenario and _is_url(args.scenario) else None
        overrides = one_off_overrides(args)
        one_off = url is not None or bool(set(overrides) - {"backend"})
        configs = None
        if args.profile or not one_off or not url:
            # a URL with load options needs no profile
            configs = load_configs(cli_options(args).configs_dir)
        base = None
        if args.profile or not one_off:
            assert configs is not None
            base = _profile(configs.root, configs.perf_profiles, args.profile or "pr")
        profile = one_off_profile(base, overrides)
        scenario: Scenario | None = None
        api_key: str | None = None
        if args.provider:
            assert configs is not None
            scenario, api_key = _provider(
                args.providers or configs.root / "providers.yaml", args.provider
            )
        failed = 0
        outcome: PointOutcome | None = None
        # a URL's one-off run reads nothing from configs/: it runs where there is none
        configs_optional = configs is None and args.configs is None
        configs_optional &= not os.environ.get(BY_FIELD["configs_dir"].env)
        with stage_run(args, "perf", args.scenario, scenario, api_key, configs_optional) as run:
            endpoint = run.endpoint
            print(f"run: {run.session.run_dir}", flush=True)
            patterns = load_patterns(configs.root if configs else None)
            target = RunTarget.from_endpoint(endpoint, patterns)
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
                problems = outcome.problems(profile.max_failure_ratio, profile.min_good_ratio)
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
