"""What several subcommands share: reading settings.yaml, finding a run directory, and running a
stage outside pytest through the same session and server pool as a pytest run."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cibench.artifacts import ScenarioWriter
from cibench.client.endpoint import Endpoint
from cibench.config.loader import parse_model, read_yaml
from cibench.config.matrix import RUN_TYPES, Stage
from cibench.config.options import CibenchOptions, env_help, resolve_options
from cibench.config.scenario import Scenario
from cibench.config.settings import Settings
from cibench.errors import ConfigError
from cibench.session import CibenchSession


def load_settings(configs_dir: Path) -> Settings:
    """`<configs_dir>/settings.yaml` (defaults when the file does not exist)."""
    path = configs_dir / "settings.yaml"
    if not path.exists():
        return Settings()
    problems: list[str] = []
    settings = parse_model(path, read_yaml(path, problems), Settings, problems)
    if problems or settings is None:
        raise ConfigError(problems or [f"{path}: cannot read settings."])
    return settings


def resolve_run_dir(value: str, artifacts: Path) -> Path:
    """A run directory given as a path, or as a run id under the artifacts directory."""
    path = Path(value)
    if not (path / "session.json").exists() and (Path(artifacts) / value / "session.json").exists():
        return Path(artifacts) / value
    return path


def cli_options(args: argparse.Namespace) -> CibenchOptions:
    """The subcommand's options: its arguments, then the `CIBENCH_*` env vars (as pytest)."""
    given = {
        "configs_dir": args.configs,
        "artifacts_dir": args.artifacts,
        "run_type": getattr(args, "run_type", None),
        "run_id": getattr(args, "run_id", None),
        "pushgateway_url": getattr(args, "pushgateway", None),
        "baseline": getattr(args, "baseline", None),
        "instance": getattr(args, "instance", None),
        "require_baseline": getattr(args, "require_baseline", None),
    }
    return resolve_options(given, os.environ, model=getattr(args, "model", None))


def cli_settings(options: CibenchOptions) -> Settings:
    """settings.yaml of the options' configs directory, with `CIBENCH_METRIC_PREFIX` applied."""
    return options.settings_with_overrides(load_settings(options.configs_dir))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """`--run-type` and `--run-id`, with the env vars pytest reads for them."""
    parser.add_argument(
        "--run-type",
        choices=RUN_TYPES,
        default=None,
        help=f"run type written to session.json (default: pr, {env_help('run_type')})",
    )
    parser.add_argument(
        "--run-id",
        default=None,
        metavar="ID",
        help=f"run id (default: a new timestamped id; {env_help('run_id')})",
    )


@dataclass(frozen=True, slots=True)
class StageRun:
    """A stage run outside pytest: the session, the server and where its results go."""

    session: CibenchSession
    scenario: Scenario
    endpoint: Endpoint
    writer: ScenarioWriter


@contextmanager
def stage_run(
    args: argparse.Namespace,
    stage: Stage,
    scenario_name: str | None = None,
    scenario: Scenario | None = None,
    api_key: str | None = None,
    configs_optional: bool = False,
) -> Iterator[StageRun]:
    """Start (or reach) the scenario's server through the session's server pool, as pytest
    does: `run.json` is written when it starts, its end time when it stops, and `session.json`
    at the end, so `cibench gate`, `cibench push` and the reports accept the run directory.

    `configs_optional`: a run that needs nothing from the configs directory (a base URL with
    a one-off profile) uses settings' defaults when the default `configs/` does not exist.
    """
    session = CibenchSession(cli_options(args), configs_optional=configs_optional)
    if scenario is None:
        scenario = session.scenario(scenario_name or "")
    else:
        session.use_scenario(scenario, api_key)
    session.record_stage(scenario.id, stage)
    try:
        endpoint = session.pool.endpoint(scenario)
        writer = ScenarioWriter(session.pool.scenario_dir(scenario.id))
        yield StageRun(session, scenario, endpoint, writer)
    finally:
        session.close_servers()
        session.write_session_json()
