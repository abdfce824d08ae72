"""`cibench lint`: validate every config and cross-reference, then print the expanded test plan."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from cibench.cli.common import cli_options
from cibench.config.checks import static_warnings
from cibench.config.loader import ConfigSet, load_configs_collecting
from cibench.config.matrix import RUN_TYPES, STAGES
from cibench.config.settings import GateThresholds
from cibench.gates.rules import REGRESSION_GATES
from cibench.plan import ScenarioPlan, plan_scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def expanded_plan(configs: ConfigSet) -> list[ScenarioPlan]:
    """Every matrix scenario × run type, as the pytest plugin would expand it."""
    return [
        plan_scenario(configs, scenario_id, run_type)
        for scenario_id in configs.matrix.scenarios
        for run_type in RUN_TYPES
        if configs.matrix.entry(scenario_id, run_type) is not None
    ]


def sample_warnings(plans: list[ScenarioPlan], thresholds: GateThresholds) -> list[str]:
    """One warning per (scenario, run type, profile) whose load points measure fewer requests
    (all epochs together) than the highest gated percentile needs (`gates.min_samples`): a P99
    over 4 requests is their maximum, and such gates are marked `low confidence`."""
    percentile = max(spec.percentile for spec in REGRESSION_GATES if spec.percentile is not None)
    need = thresholds.min_samples_for(percentile)
    warnings: list[str] = []
    for plan in plans:
        short: dict[str, list[str]] = {}
        for item in plan.perf:
            samples = item.point.num_requests * item.profile.epochs
            if samples < need:
                short.setdefault(item.profile_name, []).append(f"{item.point.id} ({samples})")
        warnings += [
            f"{plan.scenario_id} {plan.run_type}: perf profile '{profile}' measures too few "
            f"requests at {', '.join(points)}; the gated P{percentile:g} wants >= {need} per "
            "load point (gates.min_samples). Those gates will be marked low confidence: raise "
            "num_requests (or epochs)."
            for profile, points in short.items()
        ]
    return warnings


def plan_as_dict(plans: list[ScenarioPlan]) -> list[dict[str, Any]]:
    """The plan in a JSON-friendly shape."""
    return [
        {
            "scenario": plan.scenario_id,
            "run_type": plan.run_type,
            "stages": {
                stage: {"tests": plan.count(stage), "off": plan.off.get(stage)} for stage in STAGES
            },
            "perf_profile": plan.perf[0].profile_name if plan.perf else None,
            "accuracy_profile": plan.accuracy[0].profile_name if plan.accuracy else None,
            "perf_load_points": [item.point.id for item in plan.perf],
        }
        for plan in plans
    ]


def print_report(
    configs: ConfigSet, problems: list[str], plans: list[ScenarioPlan], out: TextIO
) -> None:
    """Human-readable lint report: problems first, then the plan table."""
    cases = sum(len(suite.cases) for suite in configs.functional_suites)
    print(
        f"configs: {configs.root}  scenarios: {len(configs.scenarios)}  "
        f"providers: {len(configs.providers.providers)}  perf profiles: "
        f"{len(configs.perf_profiles)}  accuracy profiles: {len(configs.accuracy_profiles)}  "
        f"functional suites: {len(configs.functional_suites)} ({cases} cases)",
        file=out,
    )
    for suite in configs.functional_suites:
        print(f"  suite {suite.suite}: {len(suite.cases)} cases", file=out)
    if problems:
        print(f"\n{len(problems)} problem(s):", file=out)
        for problem in problems:
            print(f"  {problem}", file=out)
    print("\nplan (scenario × run_type × stage = tests):", file=out)
    print(
        f"  {'scenario':<20} {'run_type':<8} {'functional':>10} {'perf':>6} {'accuracy':>8}",
        file=out,
    )
    total = 0
    for plan in plans:
        counts = []
        for stage in STAGES:
            counts.append("off" if stage in plan.off else str(plan.count(stage)))
            total += plan.count(stage)
        print(
            f"  {plan.scenario_id:<20} {plan.run_type:<8} {counts[0]:>10} {counts[1]:>6} "
            f"{counts[2]:>8}",
            file=out,
        )
    print(f"  total tests: {total}", file=out)


def run(args: argparse.Namespace) -> int:
    configs, problems = load_configs_collecting(cli_options(args).configs_dir)
    plans = expanded_plan(configs) if configs.root.is_dir() else []
    warnings = static_warnings(configs)
    weak = sample_warnings(plans, configs.settings.gates) if not problems else []
    if args.json:
        json.dump(
            {
                "ok": not problems,
                "problems": problems,
                "warnings": warnings + weak,
                "plan": plan_as_dict(plans),
            },
            sys.stdout,
            indent=2,
        )
        print()
    else:
        print_report(configs, problems, plans, sys.stdout)
        if warnings:
            print(f"\n{len(warnings)} warning(s) (files this machine lacks; the runner may not):")
            for warning in warnings:
                print(f"  {warning}")
        if weak:
            print(f"\n{len(weak)} warning(s) (too few samples for a gated percentile):")
            for warning in weak:
                print(f"  {warning}")
        print("\nOK" if not problems else f"\nFAILED: {len(problems)} problem(s)")
    return 1 if problems else 0
