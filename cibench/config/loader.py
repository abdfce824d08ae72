"""Read the YAML files under `configs/` into models, collecting all problems, not just the first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cibench.config.accuracy import AccuracyProfile
from cibench.config.checks import static_problems
from cibench.config.functional import FunctionalSuite
from cibench.config.matrix import Matrix
from cibench.config.perf import PerfProfile
from cibench.config.pricing import PRICING_FILE, Pricing
from cibench.config.providers import Providers
from cibench.config.scenario import Scenario
from cibench.config.settings import Settings
from cibench.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)
LINT_HINT = "Fix the value; `cibench lint` checks every config without starting a server."


@dataclass
class ConfigSet:
    """Everything under one `configs/` directory, validated."""

    root: Path
    settings: Settings = field(default_factory=Settings)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    matrix: Matrix = field(default_factory=Matrix)
    perf_profiles: dict[str, PerfProfile] = field(default_factory=dict)
    accuracy_profiles: dict[str, AccuracyProfile] = field(default_factory=dict)
    functional_suites: list[FunctionalSuite] = field(default_factory=list)
    providers: Providers = field(default_factory=Providers)

    def scenario(self, scenario_id: str) -> Scenario:
        """The scenario with this id (providers count as external scenarios)."""
        if scenario_id in self.scenarios:
            return self.scenarios[scenario_id]
        for provider in self.providers.providers:
            if provider.id == scenario_id:
                return provider.as_scenario()
        known = ", ".join(sorted(self.scenarios)) or "none"
        raise ConfigError(
            [
                f"unknown scenario '{scenario_id}': no {self.root}/scenarios/{scenario_id}.yaml "
                f"and no providers.yaml entry with that id (known: {known})."
            ]
        )

    def provider_api_key(self, scenario_id: str) -> str | None:
        """The key a providers.yaml entry carries ('EMPTY' or blank means none)."""
        for provider in self.providers.providers:
            if provider.id == scenario_id and provider.api_key not in ("", "EMPTY"):
                return provider.api_key
        return None


def format_location(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a key path such as `cases[3].expect.status`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(part for part in error["loc"] if part not in ("function-after",))
    got = error.get("input")
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{format_location(loc)}: required key is missing."
    if error["type"] == "extra_forbidden":
        return f"{format_location(loc)}: unknown key (typo?)."
    if isinstance(got, dict | list):
        # a whole-model check (e.g. "mode 'local' needs 'command'") already says what is wrong
        return f"{format_location(loc)}: {message}." if loc else f"{message}."
    return f"{format_location(loc)}: {message}; got {got!r}."


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping (YAML says: an error;
    PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key '{key}' appears twice (lines {seen[key]} and {line}); "
                    "only one can be meant, remove the other",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, problems: list[str]) -> Any:
    """Parse one YAML file, appending a problem (with line and column) instead of raising."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{path}: cannot read ({exc.strerror}).")
        return None
    except UnicodeDecodeError as exc:
        problems.append(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})."
            " Save the file as UTF-8."
        )
        return None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(f"{path}:{where}: YAML syntax error: {problem}.")
        return None


def parse_model(path: Path, data: Any, model: type[ModelT], problems: list[str]) -> ModelT | None:
    """Validate `data` as `model`; every validation error becomes one problem line."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping at the top level, got {type(data).__name__}.")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(f"{path}: {_describe(dict(error))}")
        return None


def _load_dir(
    directory: Path, model: type[ModelT], problems: list[str], key: Callable[[Path], str]
) -> dict[str, tuple[Path, ModelT]]:
    loaded: dict[str, tuple[Path, ModelT]] = {}
    if not directory.is_dir():
        return loaded
    for path in sorted(directory.glob("*.y*ml")):
        parsed = parse_model(path, read_yaml(path, problems), model, problems)
        if parsed is not None:
            loaded[key(path)] = (path, parsed)
    return loaded


def load_configs_collecting(root: Path) -> tuple[ConfigSet, list[str]]:
    """Load everything under `root`; return what parsed plus one line per problem."""
    problems: list[str] = []
    configs = ConfigSet(root=root)
    if not root.is_dir():
        return configs, [f"{root}: configs directory not found. Pass --configs DIR."]

    settings_path = root / "settings.yaml"
    if settings_path.exists():
        settings = parse_model(
            settings_path, read_yaml(settings_path, problems), Settings, problems
        )
        configs.settings = settings or Settings()

    for scenario_id, (path, parsed_scenario) in _load_dir(
        root / "scenarios", Scenario, problems, lambda p: p.stem
    ).items():
        scenario = parsed_scenario
        if scenario.id != scenario_id:
            problems.append(
                f"{path}: id: '{scenario.id}' differs from the file name '{scenario_id}'."
            )
        if scenario.k8s is not None:
            # manifest and kubeconfig paths are relative to the configs dir's parent
            scenario = scenario.model_copy(
                update={"k8s": scenario.k8s.resolved_against(root.resolve().parent)}
            )
        configs.scenarios[scenario.id] = scenario

    profiles = root / "tests" / "perf" / "profiles"
    configs.perf_profiles = {
        name: profile
        for name, (_, profile) in _load_dir(
            profiles, PerfProfile, problems, lambda p: p.stem
        ).items()
    }
    configs.accuracy_profiles = {
        name: profile
        for name, (_, profile) in _load_dir(
            root / "tests" / "accuracy", AccuracyProfile, problems, lambda p: p.stem
        ).items()
    }
    suites = _load_dir(root / "tests" / "functional", FunctionalSuite, problems, lambda p: p.stem)
    for path, suite in suites.values():
        if suite.suite != path.stem:
            problems.append(
                f"{path}: suite: '{suite.suite}' differs from the file name '{path.stem}'."
            )
        configs.functional_suites.append(suite)

    providers_path = root / "providers.yaml"
    if providers_path.exists():
        providers = parse_model(
            providers_path, read_yaml(providers_path, problems), Providers, problems
        )
        configs.providers = providers or Providers()

    pricing_path = root / PRICING_FILE
    if pricing_path.exists():  # read by `cibench compare`; checked here so lint catches typos
        parse_model(pricing_path, read_yaml(pricing_path, problems), Pricing, problems)

    matrix_path = root / "matrix.yaml"
    if not matrix_path.exists():
        problems.append(f"{matrix_path}: missing. Every run needs a matrix (see the README).")
    else:
        matrix = parse_model(matrix_path, read_yaml(matrix_path, problems), Matrix, problems)
        if matrix is not None:
            configs.matrix = matrix
            problems.extend(cross_reference_problems(configs, matrix_path))
    problems.extend(static_problems(configs))
    return configs, problems


def cross_reference_problems(configs: ConfigSet, matrix_path: Path) -> list[str]:
    """Matrix entries that name scenarios, profiles, suites or cases that do not exist."""
    problems: list[str] = []
    provider_ids = {p.id for p in configs.providers.providers}
    suite_names = {s.suite for s in configs.functional_suites}
    case_ids = {f"{s.suite}::{c.id}" for s in configs.functional_suites for c in s.cases}
    perf_names = set(configs.perf_profiles) | _stems(configs.root / "tests" / "perf" / "profiles")
    accuracy_names = set(configs.accuracy_profiles) | _stems(configs.root / "tests" / "accuracy")
    for scenario_id, by_run_type in configs.matrix.scenarios.items():
        where = f"{matrix_path}: scenarios.{scenario_id}"
        known = scenario_id in configs.scenarios or scenario_id in provider_ids
        if not known and scenario_id not in _stems(configs.root / "scenarios"):
            problems.append(
                f"{where}: unknown scenario; expected one of {sorted(configs.scenarios)} "
                f"(files in {configs.root / 'scenarios'}) or a providers.yaml id."
            )
        for run_type, entry in by_run_type.items():
            perf_profile = entry.perf_profile or run_type
            accuracy_profile = entry.accuracy_profile or run_type
            if entry.perf and perf_profile not in perf_names:
                problems.append(
                    f"{where}.{run_type}.perf_profile: '{perf_profile}' is not a file "
                    f"in {configs.root / 'tests/perf/profiles'} "
                    f"(have {sorted(configs.perf_profiles)})."
                )
            if entry.accuracy and accuracy_profile not in accuracy_names:
                problems.append(
                    f"{where}.{run_type}.accuracy_profile: '{accuracy_profile}' is not a "
                    f"file in {configs.root / 'tests/accuracy'} "
                    f"(have {sorted(configs.accuracy_profiles)})."
                )
            if isinstance(entry.functional_subset, list):
                for index, name in enumerate(entry.functional_subset):
                    if name not in suite_names and name not in case_ids:
                        problems.append(
                            f"{where}.{run_type}.functional_subset[{index}]: '{name}' is neither a "
                            f"suite ({sorted(suite_names)}) nor a 'suite::case_id'."
                        )
    return problems


def _stems(directory: Path) -> set[str]:
    """Names of the YAML files in `directory`, parsed or not (a broken file is reported once)."""
    return {path.stem for path in directory.glob("*.y*ml")} if directory.is_dir() else set()


def load_configs(root: Path) -> ConfigSet:
    """Load and validate `root`; raise `ConfigError` listing every problem found."""
    configs, problems = load_configs_collecting(root)
    if problems:
        raise ConfigError(problems)
    return configs


def load_pricing(path: Path) -> Pricing:
    """Read and validate a pricing file; `ConfigError` names the file and key on bad input."""
    problems: list[str] = []
    pricing = parse_model(path, read_yaml(path, problems), Pricing, problems)
    if problems or pricing is None:
        raise ConfigError(problems or [f"{path}: cannot read the pricing file."])
    return pricing
