"""The run's options, resolved once: command line > environment variable > settings.yaml.

pytest (`cibench.plugin`) and every `cibench` subcommand build `CibenchOptions` with
`resolve_options`, so the same `CIBENCH_*` variables work everywhere. What settings.yaml
supplies when neither is given is applied by the `*_or` methods, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from cibench.config.matrix import RUN_TYPES, RunType
from cibench.config.settings import Settings
from cibench.errors import ConfigError


class Option(NamedTuple):
    """One option: its `CibenchOptions` field, its command-line flag and its env var."""

    field: str
    flag: str
    env: str


OPTIONS: tuple[Option, ...] = (
    Option("run_type", "--run-type", "CIBENCH_RUN_TYPE"),
    Option("configs_dir", "--configs", "CIBENCH_CONFIGS"),
    Option("artifacts_dir", "--artifacts", "CIBENCH_ARTIFACTS"),
    Option("pushgateway_url", "--pushgateway", "CIBENCH_PUSHGATEWAY_URL"),
    Option("baseline", "--baseline", "CIBENCH_BASELINE"),
    Option("run_id", "--run-id", "CIBENCH_RUN_ID"),
    Option("metric_prefix", "--metric-prefix", "CIBENCH_METRIC_PREFIX"),
    Option("instance", "--instance", "CIBENCH_INSTANCE"),
    Option("scenario_id", "--scenario-id", "CIBENCH_SCENARIO_ID"),
    Option("capability_baseline", "--capability-baseline", "CIBENCH_CAPABILITY_BASELINE"),
    Option("require_baseline", "--require-baseline", "CIBENCH_REQUIRE_BASELINE"),
)
"""Every option that has an env var. Help texts name the env var with `env_help`."""
BY_FIELD = {option.field: option for option in OPTIONS}
FLAG_FIELDS = ("require_baseline",)
"""Options that are on/off switches: their env var reads 1/true/yes/on or 0/false/no/off."""
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def env_help(field: str) -> str:
    """`env CIBENCH_X`, for an option's help text."""
    return f"env {BY_FIELD[field].env}"


@dataclass(frozen=True)
class CibenchOptions:
    """The run's options after the command line and env vars are merged (settings.yaml is
    applied by the `*_or` methods where a value is still None)."""

    scenarios: list[str] | None = None
    run_type: RunType = "pr"
    configs_dir: Path = Path("configs")
    artifacts_dir: Path | None = None
    pushgateway_url: str | None = None
    baseline: str | None = None
    gates_enabled: bool = True
    run_id: str | None = None
    metric_prefix: str | None = None
    model: str | None = None
    instance: str | None = None
    """Pushgateway grouping-key `instance`; None = this machine's hostname."""
    scenario_id: str | None = None
    """The id of the run's one base-URL scenario (default: the served model's name)."""
    capability_baseline: str | None = None
    declared_features: dict[str, bool] = dataclass_field(default_factory=dict)
    """Capabilities declared with --features / --expect-capabilities (on top of each
    scenario's `features`)."""
    require_baseline: bool | None = None
    """A missing baseline (or one lacking a load point) fails the run; None = settings.yaml."""

    def pushgateway_or(self, settings: Settings) -> str | None:
        """The Pushgateway URL: given, else settings.yaml `pushgateway_url`."""
        return self.pushgateway_url or settings.pushgateway_url

    def baseline_or(self, settings: Settings) -> str | None:
        """The baseline source: given, else settings.yaml `baseline`."""
        return self.baseline or settings.baseline

    def capability_baseline_or(self, settings: Settings) -> str | None:
        """Where the functional stage reads the capability baseline: given, else settings'
        `capability_baseline`, else the regression baseline when it is a directory (a
        Pushgateway holds no probe findings); `off` means none."""
        chosen = self.capability_baseline or settings.capability_baseline
        if chosen is not None:
            return None if chosen == "off" else chosen
        regression = self.baseline_or(settings)
        if regression and regression != "pushgateway" and "://" not in regression:
            return regression
        return None

    def require_baseline_or(self, settings: Settings) -> bool:
        """Whether a missing baseline fails the run: given, else settings.yaml
        `require_baseline`."""
        if self.require_baseline is None:
            return settings.require_baseline
        return self.require_baseline

    def artifacts_or(self, settings: Settings) -> Path:
        """Where run directories go: given, else settings.yaml `artifacts_dir`."""
        return self.artifacts_dir or Path(settings.artifacts_dir)

    def settings_with_overrides(self, settings: Settings) -> Settings:
        """settings.yaml with the options that override it (`metric_prefix`) applied."""
        if self.metric_prefix is None:
            return settings
        try:
            data = {**settings.model_dump(), "metric_prefix": self.metric_prefix}
            return Settings.model_validate(data)
        except ValidationError:
            raise ConfigError(
                [
                    f"--metric-prefix {self.metric_prefix!r}: not a valid start of a Prometheus "
                    "metric name. Use letters, digits, '_' and ':', not starting with a digit "
                    "(or an empty string)."
                ]
            ) from None


def _switch(option: Option, text: str) -> bool:
    """An on/off env var's value, or `ConfigError` naming the variable."""
    word = text.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ConfigError(
        [f"{option.env}: expected one of {', '.join(TRUE_WORDS + FALSE_WORDS[1:])}, got {text!r}"]
    )


def resolve_options(
    given: Mapping[str, Any], environ: Mapping[str, str], **fixed: Any
) -> CibenchOptions:
    """Options from command-line values (`given`, by field; None = not given), then `environ`.

    `fixed` holds options without an env var (`scenarios`, `model`, `gates_enabled`).
    Raises `ConfigError` for a run type that does not exist, naming where it came from.
    """
    values: dict[str, Any] = dict(fixed)
    for option in OPTIONS:
        value = given.get(option.field)
        if value is None:
            value = environ.get(option.env)  # set but empty counts: an empty metric prefix
            if value is not None and option.field in FLAG_FIELDS:
                value = _switch(option, value)
        if value is not None:
            values[option.field] = value
    run_type = values.get("run_type", "pr")
    if run_type not in RUN_TYPES:
        where = "--run-type" if given.get("run_type") is not None else "CIBENCH_RUN_TYPE"
        raise ConfigError([f"{where}: expected one of {', '.join(RUN_TYPES)}, got {run_type!r}"])
    for field in ("configs_dir", "artifacts_dir"):
        if field in values:
            values[field] = Path(values[field])
    return CibenchOptions(**values)
