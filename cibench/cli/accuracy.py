"""`cibench accuracy --scenario ID [--profile pr]`: one accuracy run outside pytest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cibench.accuracy.dataset import load_dataset
from cibench.accuracy.runner import run_profile
from cibench.config.loader import load_configs
from cibench.errors import CibenchError, ConfigError
from cibench.launch import open_endpoint
from cibench.runinfo import new_run_id


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-command's own options (`--configs` and `--artifacts` come from `cibench.cli`)."""
    parser.add_argument("--scenario", required=True, help="scenario id (configs/scenarios/ID.yaml)")
    parser.add_argument(
        "--profile",
        default="pr",
        help="accuracy profile name (configs/tests/accuracy/NAME.yaml; default pr)",
    )
    parser.add_argument(
        "--dataset-path",
        type=Path,
        default=None,
        help="GPQA CSV to use instead of the profile's dataset_path / dataset_url",
    )


def run(args: argparse.Namespace) -> int:
    """Start or reach the scenario, run the profile, print the verdict: 0 pass, 1 below, 2 error."""
    try:
        configs = load_configs(Path(args.configs))
        scenario = configs.scenario(args.scenario)
        profile = configs.accuracy_profiles.get(args.profile)
        if profile is None:
            known = ", ".join(sorted(configs.accuracy_profiles)) or "none"
            raise ConfigError(
                [
                    f"{configs.root / 'tests/accuracy'}: no profile '{args.profile}.yaml' "
                    f"(have: {known}). Pass --profile NAME."
                ]
            )
        if args.dataset_path is not None:
            absolute = str(Path(args.dataset_path).expanduser().resolve())
            profile = profile.model_copy(update={"dataset_path": absolute, "dataset_url": None})
        load_dataset(profile, configs.root)  # fail before starting a server that may load for long
        stage_dir = Path(args.artifacts) / new_run_id() / scenario.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        with open_endpoint(scenario, stage_dir) as endpoint:
            outcome = run_profile(profile, endpoint, configs.root, stage_dir, args.profile)
    except CibenchError as exc:
        print(f"cibench accuracy: {exc}", file=sys.stderr)
        return 2
    print(outcome.summary())
    print(f"JSON: {outcome.json_path}")
    print(f"CSV row: {outcome.csv_path}")
    return 0 if outcome.passed else 1
