"""Shared pieces of the fault tests: a copy of the project's configs to break, a pytest run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
TINY = Path(__file__).with_name("tiny_server.py")


def copy_configs(tmp_path: Path) -> Path:
    """A private copy of configs/ to break on purpose."""
    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    return configs


def write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def small_matrix(configs: Path, scenario_id: str, **entry: Any) -> None:
    """matrix.yaml with only `scenario_id`: a short functional suite and nothing else."""
    values = {"functional": True, "functional_subset": ["models_health"], **entry}
    write_yaml(configs / "matrix.yaml", {"scenarios": {scenario_id: {"pr": values}}})


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIBENCH_", "PYTEST_"))}
    return env | extra


def pytest_command(configs: Path, artifacts: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--configs={configs}",
        f"--artifacts={artifacts}", "-q", "-rf", *args,
    ]  # fmt: skip


def run_pytest(
    configs: Path, artifacts: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """A whole cibench pytest session in a subprocess, from the repository root."""
    return subprocess.run(
        pytest_command(configs, artifacts, *args),
        cwd=REPO,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def files_holding(root: Path, needle: str) -> list[str]:
    return [
        str(path)
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_text(encoding="utf-8", errors="replace")
    ]
