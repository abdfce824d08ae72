"""Every option resolves the same way under pytest and in every `cibench` subcommand:
command line > `CIBENCH_*` env var > settings.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cibench.cli import SUBCOMMANDS, build_subparser
from cibench.cli.common import cli_options
from cibench.config.options import OPTIONS, CibenchOptions, Option, resolve_options
from cibench.config.settings import Settings
from cibench.errors import ConfigError
from cibench.plugin import SESSION_KEY

VALUES = {
    "run_type": "daily",
    "configs_dir": Path("/tmp/cibench-configs"),
    "artifacts_dir": Path("/tmp/cibench-artifacts"),
    "pushgateway_url": "http://127.0.0.1:9091",
    "baseline": "pushgateway",
    "run_id": "r-42",
    "metric_prefix": "team_",
    "instance": "runner-7",
    "scenario_id": "prod-qwen",
    "capability_baseline": "/tmp/cibench-capabilities.json",
    "require_baseline": True,
}
"""A value for each option that differs from its default."""
REQUIRED_ARGS = {
    "perf": ["--scenario", "local-sim"],
    "accuracy": ["--scenario", "local-sim"],
    "push": ["RUN"],
    "gate": ["RUN"],
    "report": ["RUN"],
    "compare": ["RUN", "OTHER"],
    "export": ["RUN"],
}


def env_value(option: Option) -> str:
    return str(VALUES[option.field])


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.env)
def test_env_var_sets_the_option_and_the_command_line_wins(option: Option) -> None:
    from_env = resolve_options({}, {option.env: env_value(option)})
    assert getattr(from_env, option.field) == VALUES[option.field]
    given = {option.field: "pr" if option.field == "run_type" else "given"}
    from_cli = resolve_options(given, {option.env: env_value(option)})
    assert str(getattr(from_cli, option.field)) == given[option.field]


class _Probe:
    """A pytest plugin that keeps the options the cibench plugin resolved."""

    options: CibenchOptions | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.options = config.stash[SESSION_KEY].options


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.env)
def test_env_var_works_under_pytest(
    option: Option, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(option.env, env_value(option))
    monkeypatch.chdir(tmp_path)
    probe = _Probe()
    pytest.main(["--co", "-q", "-p", "no:cacheprovider", str(tmp_path)], plugins=[probe])
    assert probe.options is not None
    assert getattr(probe.options, option.field) == VALUES[option.field]


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.env)
def test_env_var_works_in_every_subcommand(
    command: str, option: Option, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(option.env, env_value(option))
    parser, _ = build_subparser(command)
    args = parser.parse_args(REQUIRED_ARGS.get(command, []))
    assert getattr(cli_options(args), option.field) == VALUES[option.field]


def test_settings_fill_in_what_neither_gives() -> None:
    settings = Settings(pushgateway_url="http://gw:9091", baseline="artifacts", metric_prefix="x_")
    options = resolve_options({}, {})
    assert options.pushgateway_or(settings) == "http://gw:9091"
    assert options.baseline_or(settings) == "artifacts"
    assert options.artifacts_or(settings) == Path(settings.artifacts_dir)
    assert options.settings_with_overrides(settings).metric_prefix == "x_"
    overridden: dict[str, Any] = {"pushgateway_url": "http://other:1", "metric_prefix": ""}
    options = resolve_options(overridden, {})
    assert options.pushgateway_or(settings) == "http://other:1"
    assert options.settings_with_overrides(settings).metric_prefix == ""


def test_an_on_off_env_var_reads_words_and_names_itself_when_it_cannot() -> None:
    for word, expected in (("1", True), ("yes", True), ("0", False), ("", False)):
        options = resolve_options({}, {"CIBENCH_REQUIRE_BASELINE": word})
        assert options.require_baseline is expected
    assert resolve_options({}, {}).require_baseline_or(Settings(require_baseline=True))
    with pytest.raises(ConfigError, match="CIBENCH_REQUIRE_BASELINE: expected one of 1, true"):
        resolve_options({}, {"CIBENCH_REQUIRE_BASELINE": "maybe"})


def test_an_unknown_run_type_names_where_it_came_from() -> None:
    with pytest.raises(ConfigError, match="CIBENCH_RUN_TYPE: expected one of pr, daily"):
        resolve_options({}, {"CIBENCH_RUN_TYPE": "weekly"})
