"""What several subcommands share: reading settings.yaml, finding a run directory."""

from __future__ import annotations

from pathlib import Path

from cibench.config.loader import parse_model, read_yaml
from cibench.config.settings import Settings
from cibench.errors import ConfigError


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


def resolve_run_dir(value: str, artifacts: str) -> Path:
    """A run directory given as a path, or as a run id under the artifacts directory."""
    path = Path(value)
    if not (path / "session.json").exists() and (Path(artifacts) / value / "session.json").exists():
        return Path(artifacts) / value
    return path
