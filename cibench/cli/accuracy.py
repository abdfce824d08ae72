"""`cibench accuracy --scenario ID [--profile pr]`: one accuracy run outside pytest, through the
same session and server pool as `pytest -m accuracy` (a complete run directory)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cibench.accuracy.dataset import load_dataset
from cibench.accuracy.runner import run_profile
from cibench.cli.common import add_run_arguments, cli_options, stage_run
from cibench.config.loader import load_configs
from cibench.errors import CibenchError, ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-command's own options (`--configs` and `--artifacts` come from `cibench.cli`)."""
    parser.add_argument("--scenario", required=True, help="scenario id (configs/scenarios/ID.yaml)")
    parser.add_argument(
        "--profile",
        default="pr",
        help="accuracy profile name (configs/tests/accuracy/NAME.yaml; default pr)",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--dataset-path",
        type=Path,
        default=None,
        help="GPQA CSV to use instead of the profile's dataset_path / dataset_url",
    )


def run(args: argparse.Namespace) -> int:
    """Start or reach the scenario, run the profile, print the verdict: 0 pass, 1 below, 2 error."""
    try:
        configs = load_configs(cli_options(args).configs_dir)
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
        with stage_run(args, "accuracy", scenario.id) as run:
            print(f"run: {run.session.run_dir}", flush=True)
            outcome = run_profile(
                profile, run.endpoint, configs.root, run.writer.directory, args.profile
            )
    except CibenchError as exc:
        print(f"cibench accuracy: {exc}", file=sys.stderr)
        return 2
    print(outcome.summary())
    print(f"JSON: {outcome.json_path}")
    print(f"CSV row: {outcome.csv_path}")
    return 0 if outcome.passed else 1
