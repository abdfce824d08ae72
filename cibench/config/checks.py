"""Checks across config files that need no server: names that collide, files that are missing,
placeholders nobody fills, scenarios nobody defines.

`static_problems` returns what makes a run fail or misbehave (lint fails on them);
`static_warnings` what may be fine on the runner but not here (a dataset or manifest that lives
outside the project, or belongs to a scenario no matrix entry uses).
"""

from __future__ import annotations

import shlex
import string
from collections import Counter
from pathlib import Path
from typing import Protocol

from cibench.config.accuracy import AccuracyProfile
from cibench.config.matrix import Matrix
from cibench.config.providers import Providers
from cibench.config.scenario import Scenario
from cibench.config.settings import Settings
from cibench.urls import is_url


class ConfigSet(Protocol):
    """What the checks read of `cibench.config.loader.ConfigSet` (which calls them)."""

    root: Path
    settings: Settings
    scenarios: dict[str, Scenario]
    matrix: Matrix
    accuracy_profiles: dict[str, AccuracyProfile]
    providers: Providers


COMMAND_PLACEHOLDERS = ("python", "model", "served_model_name", "host", "port", "args")


def duplicate_stems(directory: Path) -> list[str]:
    """`x.yml` beside `x.yaml`: both load as `x`, and one silently replaces the other."""
    if not directory.is_dir():
        return []
    stems = Counter(path.stem for path in directory.glob("*.y*ml"))
    return [
        f"{directory}/{stem}.yaml and {stem}.yml: two files define '{stem}' and only one is "
        "used. Delete or rename one."
        for stem, count in sorted(stems.items())
        if count > 1
    ]


def command_problem(command: str) -> str | None:
    """What is wrong with a `command` template's `{placeholders}`, or None."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(command) if name is not None]
    except ValueError as exc:
        return f"malformed placeholder ({exc}); write a literal brace as {{{{ or }}}}"
    unknown = sorted({name for name in fields if name not in COMMAND_PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in COMMAND_PLACEHOLDERS)
        named = ", ".join("{" + name + "}" for name in unknown)
        return f"unknown placeholder(s) {named}; allowed: {allowed}"
    try:
        shlex.split(command.format(**dict.fromkeys(COMMAND_PLACEHOLDERS, "x")))
    except ValueError as exc:
        return f"cannot be split into arguments ({exc}); close every quote"
    return None


def _used_scenarios(configs: ConfigSet) -> set[str]:
    return set(configs.matrix.scenarios) | set(configs.settings.default_scenarios)


def _used_accuracy_profiles(configs: ConfigSet) -> set[str]:
    return {
        entry.accuracy_profile or run_type
        for by_run_type in configs.matrix.scenarios.values()
        for run_type, entry in by_run_type.items()
        if entry.accuracy
    }


def _missing_path_lines(configs: ConfigSet) -> list[tuple[bool, str]]:
    """(is_problem, line) for each dataset or manifest file that does not exist."""
    lines: list[tuple[bool, str]] = []
    used = _used_scenarios(configs)
    for scenario in configs.scenarios.values():
        if scenario.k8s is None:
            continue
        for manifest in scenario.k8s.manifests:
            if not Path(manifest).exists():
                where = configs.root / "scenarios" / f"{scenario.id}.yaml"
                lines.append(
                    (
                        scenario.id in used,
                        f"{where}: k8s.manifests: {manifest} does not exist. Add the file or fix "
                        "the path (relative paths start at the configs dir's parent).",
                    )
                )
    used_profiles = _used_accuracy_profiles(configs)
    for name, profile in configs.accuracy_profiles.items():
        if not profile.dataset_path or profile.dataset_url:
            continue
        raw = Path(profile.dataset_path).expanduser()
        path = raw if raw.is_absolute() else configs.root / raw
        if path.exists():
            continue
        inside = not Path(profile.dataset_path).expanduser().is_absolute()
        where = configs.root / "tests" / "accuracy" / f"{name}.yaml"
        lines.append(
            (
                inside and name in used_profiles,
                f"{where}: dataset_path: {path} does not exist. Put the dataset there, fix the "
                "path (relative paths start at the configs dir) or set dataset_url.",
            )
        )
    return lines


def static_problems(configs: ConfigSet) -> list[str]:
    """Everything wrong across files that a run would trip over, each with file, key, fix."""
    root = configs.root
    problems: list[str] = []
    for directory in (
        root / "scenarios",
        root / "tests" / "perf" / "profiles",
        root / "tests" / "accuracy",
        root / "tests" / "functional",
    ):
        problems += duplicate_stems(directory)
    for name in ("settings", "matrix", "providers"):
        if (root / f"{name}.yaml").exists() and (root / f"{name}.yml").exists():
            problems.append(
                f"{root}/{name}.yml beside {name}.yaml: only {name}.yaml is read. Delete one."
            )
    for scenario in configs.scenarios.values():
        if scenario.command:
            problem = command_problem(scenario.command)
            if problem:
                problems.append(f"{root}/scenarios/{scenario.id}.yaml: command: {problem}.")
    confirm_base = configs.settings.gates.confirm.baseline_scenario
    if confirm_base is not None and confirm_base not in configs.scenarios:
        problems.append(
            f"{root}/settings.yaml: gates.confirm.baseline_scenario: '{confirm_base}' is not a "
            f"scenario in {root}/scenarios/. Name one of "
            f"{', '.join(sorted(configs.scenarios)) or '(none)'}, or set it to null."
        )
    ids = Counter(provider.id for provider in configs.providers.providers)
    for provider_id, count in sorted(ids.items()):
        if count > 1:
            problems.append(
                f"{root}/providers.yaml: providers: id '{provider_id}' is used {count} times; "
                "only the first is reachable. Give each entry its own id."
            )
        if provider_id in configs.scenarios:
            problems.append(
                f"{root}/providers.yaml: providers: id '{provider_id}' is also "
                f"scenarios/{provider_id}.yaml, which wins; rename the provider entry."
            )
    files = root / "scenarios"
    stems = {path.stem for path in files.glob("*.y*ml")} if files.is_dir() else set()
    known = set(configs.scenarios) | set(ids) | stems  # a broken file is reported once
    # only what settings.yaml says: the built-in default (local-sim) matters to runs without
    # --scenario alone, which report an unknown scenario themselves
    written = "default_scenarios" in configs.settings.model_fields_set
    for index, name in enumerate(configs.settings.default_scenarios if written else []):
        if not is_url(name) and name not in known:
            problems.append(
                f"{root}/settings.yaml: default_scenarios[{index}]: unknown scenario '{name}'; "
                f"expected one of {sorted(known)} or a base URL."
            )
    problems += [line for is_problem, line in _missing_path_lines(configs) if is_problem]
    return problems


def static_warnings(configs: ConfigSet) -> list[str]:
    """Missing files that may exist on the runner (outside the project, or unused here)."""
    return [line for is_problem, line in _missing_path_lines(configs) if not is_problem]
