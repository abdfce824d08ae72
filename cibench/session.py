"""`CibenchSession`: one run's state — options, configs, plan, servers, post-session."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cibench import __version__
from cibench.artifacts import RunWriter, SessionFile, SessionScenario
from cibench.artifacts.files import STAGE_ORDER
from cibench.config.declared import with_declared
from cibench.config.loader import ConfigSet, load_configs
from cibench.config.matrix import RunType, Stage
from cibench.config.options import CibenchOptions
from cibench.config.scenario import AUTO_MODEL, URL_SCENARIO_KEY_ENV, Scenario
from cibench.config.settings import Settings
from cibench.errors import CibenchError, ConfigError
from cibench.launch import Endpoint, Launcher, make_launcher
from cibench.launch.url import url_scenario
from cibench.plan import ScenarioPlan, build_plan
from cibench.redact import register_secret
from cibench.runinfo import detect_branch, detect_commit, new_run_id, utc_now_iso
from cibench.servers import RunFacts, ServerPool
from cibench.urls import is_url, redact_userinfo, url_problem

if TYPE_CHECKING:
    from cibench.gates.confirm import Confirmer


@dataclass(frozen=True)
class RunContext:
    """What stage tests need to know about the run (the `cibench_run` fixture)."""

    run_id: str
    run_type: RunType
    configs: ConfigSet
    settings: Settings
    run_dir: Path
    worker_id: str
    capability_baseline: str | None = None


@dataclass
class CibenchSession:
    """Holds one run's state; the plugin's hooks are thin calls into it.

    Constructing it reads nothing: configs load on first use, so `pytest tests/unit` never
    touches `configs/` and a broken config only matters to runs that need it.
    """

    options: CibenchOptions
    worker_id: str = "master"
    started: str = field(default_factory=utc_now_iso)
    _configs: ConfigSet | None = None
    _plans: list[ScenarioPlan] | None = None
    _scenarios: dict[str, Scenario] = field(default_factory=dict)
    _pool: ServerPool | None = None
    _run_id: str | None = None
    _commit: str | None = None
    _branch: str | None = None
    stages_seen: dict[str, list[Stage]] = field(default_factory=dict)
    plan_error: CibenchError | None = None
    _api_keys: dict[str, str | None] = field(default_factory=dict)
    _confirmer: Confirmer | None = None
    _confirm_baseline: tuple[Launcher, Endpoint] | None = None
    configs_optional: bool = False
    """When True and the configs directory does not exist, run on defaults (no scenario ids,
    no profiles, default settings): for a one-off run against a base URL."""

    @property
    def run_id(self) -> str:
        if self._run_id is None:
            self._run_id = self.options.run_id or new_run_id()
        return self._run_id

    @property
    def configs(self) -> ConfigSet:
        """The validated configs (raises `ConfigError` listing every problem)."""
        if self._configs is None:
            root = self.options.configs_dir
            if self.configs_optional and not root.exists():
                self._configs = ConfigSet(root=root)
            else:
                self._configs = load_configs(root)
        return self._configs

    @property
    def settings(self) -> Settings:
        """settings.yaml with the run's overrides applied."""
        return self.options.settings_with_overrides(self.configs.settings)

    def confirmer(self) -> Confirmer:
        """The PR run's confirm step (`cibench.gates.confirm`), built on first use: it loads the
        baseline once per scenario and keeps the session's re-measurement budget."""
        if self._confirmer is None:
            from cibench.gates.confirm import Confirmer  # numpy: only when perf runs

            settings = self.settings
            self._confirmer = Confirmer(
                settings=settings,
                run_type=self.options.run_type,
                source=self.options.baseline_or(settings),
                pushgateway_url=self.options.pushgateway_or(settings),
                run_dir=self.run_dir,
                gates_enabled=self.options.gates_enabled,
            )
        return self._confirmer

    @property
    def run_dir(self) -> Path:
        """`artifacts/<run_id>/`."""
        return self.options.artifacts_or(self.configs.settings) / self.run_id

    def scenario_ids(self) -> list[str]:
        """The selected scenario ids: `--scenario` values, else settings' default scenarios."""
        names = self.options.scenarios or self.configs.settings.default_scenarios
        if self.options.scenario_id is not None and sum(map(is_url, names)) != 1:
            raise ConfigError(
                [
                    f"--scenario-id {self.options.scenario_id}: names the scenario of one base "
                    "URL (--scenario http://HOST:PORT); this run has "
                    f"{sum(map(is_url, names))}. Run each URL on its own to name it."
                ]
            )
        ids: list[str] = []
        for name in names:
            scenario = self.scenario(name)
            ids.append(scenario.id)
        return ids

    def scenario(self, name: str) -> Scenario:
        """Resolve a `--scenario` value: a config id, a providers.yaml id, or a base URL."""
        if name not in self._scenarios:
            if is_url(name):
                env_key = os.environ.get(URL_SCENARIO_KEY_ENV) or None
                register_secret(env_key)
                found = url_scenario(name, self.options.model, self.options.scenario_id, env_key)
                scenario = found.scenario
                if found.api_key:
                    self._api_keys[scenario.id] = found.api_key
            else:
                scenario = self.configs.scenario(name)
                if self.options.model:
                    scenario = scenario.model_copy(update={"model": self.options.model})
            if self.options.declared_features:
                features = with_declared(scenario.features, self.options.declared_features)
                scenario = scenario.model_copy(update={"features": features})
            self._scenarios[name] = scenario
            self._scenarios[scenario.id] = scenario
        return self._scenarios[name]

    def use_scenario(self, scenario: Scenario, api_key: str | None = None) -> Scenario:
        """Run a scenario the configs do not hold (a `--providers FILE` entry), with its key."""
        self._scenarios[scenario.id] = scenario
        self._api_keys[scenario.id] = api_key
        return scenario

    def api_key(self, scenario_id: str) -> str | None:
        """The key a scenario's server expects: given with `use_scenario` or in a URL's
        userinfo, else providers.yaml."""
        if scenario_id in self._api_keys:
            return self._api_keys[scenario_id]
        key = self.configs.provider_api_key(scenario_id)
        register_secret(key)
        return key

    def plans(self) -> list[ScenarioPlan]:
        """The expanded plan for the selected scenarios and run type."""
        if self._plans is None:
            self._plans = build_plan(self.configs, self.scenario_ids(), self.options.run_type)
        return self._plans

    def context(self) -> RunContext:
        return RunContext(
            run_id=self.run_id,
            run_type=self.options.run_type,
            configs=self.configs,
            settings=self.settings,
            run_dir=self.run_dir,
            worker_id=self.worker_id,
            capability_baseline=self.options.capability_baseline_or(self.configs.settings),
        )

    def facts(self) -> RunFacts:
        if self._commit is None:
            self._commit, self._branch = detect_commit(), detect_branch()
        return RunFacts(self.run_id, self.options.run_type, self._commit, self._branch or "")

    @property
    def pool(self) -> ServerPool:
        """The server pool (created on first use; closing it stops the running server)."""
        if self._pool is None:
            self._pool = ServerPool(self.run_dir, self.facts(), self.api_key)
        return self._pool

    def confirm_baseline_endpoint(self) -> Endpoint | None:
        """The server of `gates.confirm.baseline_scenario` (started on first use, kept until
        `close_servers`), or None when no baseline scenario is configured. Raises
        `CibenchError` when it cannot start."""
        scenario_id = self.settings.gates.confirm.baseline_scenario
        if scenario_id is None:
            return None
        if self._confirm_baseline is None:
            launcher = make_launcher(
                self.scenario(scenario_id),
                self.run_dir / f"confirm-baseline-{scenario_id}",
                api_key=self.api_key(scenario_id),
            )
            try:
                endpoint = launcher.start()
            except CibenchError:
                launcher.stop()
                raise
            self._confirm_baseline = (launcher, endpoint)
        return self._confirm_baseline[1]

    def close_servers(self) -> None:
        """Stop whatever scenario server is still running (and the confirm step's baseline)."""
        if self._pool is not None:
            self._pool.stop_current()
        if self._confirm_baseline is not None:
            launcher, _ = self._confirm_baseline
            self._confirm_baseline = None
            launcher.stop()

    def check_before_run(self) -> None:
        """Refuse, before any test, what would only fail at the end: a bad `--pushgateway`
        URL, and a `--run-id` whose run directory already holds a finished run.

        Two sessions writing one directory would merge their CSVs silently. Only an explicit
        run id can collide (new ids are unique); xdist workers share their controller's on
        purpose and never call this.
        """
        url = self.options.pushgateway_url
        problem = url_problem(url) if url else None
        if url and problem:
            raise CibenchError(
                f"--pushgateway {redact_userinfo(url)}: {problem}. Pass the Pushgateway's base "
                "URL, such as http://127.0.0.1:9091."
            )
        if self.options.metric_prefix is not None:
            try:
                self.settings  # noqa: B018 (validates --metric-prefix)
            except ConfigError as exc:
                if "--metric-prefix" in str(exc):
                    raise
        if not self.options.run_id:
            return
        try:
            run_dir = self.run_dir
        except ConfigError:
            return  # reported where the configs are first needed
        if (run_dir / "session.json").exists():
            raise CibenchError(
                f"--run-id {self.options.run_id}: {run_dir} already holds a run "
                f"(session.json), and two runs would merge into one directory. Choose another "
                f"run id, or remove {run_dir} to redo that run."
            )

    def stamp_exit_status(self, exit_status: int) -> None:
        """Record the session's final exit status in session.json and every run.json."""
        interrupted = exit_status == 2  # pytest.ExitCode.INTERRUPTED
        RunWriter(self.run_dir).stamp_exit(exit_status, interrupted, list(self.stages_seen))

    def record_stage(self, scenario_id: str, stage: Stage) -> None:
        """Note that `stage` ran (or tried to) for `scenario_id`."""
        seen = self.stages_seen.setdefault(scenario_id, [])
        if stage not in seen:
            seen.append(stage)

    def write_session_json(self) -> Path:
        """Write `session.json`: what ran, for the post-session stage and `cibench gate`."""
        facts = self.facts()
        scenarios: dict[str, SessionScenario] = {}
        for scenario_id, stages in self.stages_seen.items():
            scenarios[scenario_id] = self._session_scenario(scenario_id, stages)
        session = SessionFile(
            run_id=facts.run_id,
            run_type=facts.run_type,
            commit=facts.commit,
            branch=facts.branch,
            start=self.started,
            end=utc_now_iso(),
            cibench_version=__version__,
            scenarios=scenarios,
        )
        return RunWriter(self.run_dir).finish(session)

    def _session_scenario(self, scenario_id: str, stages: list[Stage]) -> SessionScenario:
        """What session.json says of one scenario; the model is the name the server reported.

        An xdist controller never resolved a URL scenario (its workers did), so what it does
        not know comes from the scenario's run.json.
        """
        run = RunWriter(self.run_dir).scenario(scenario_id).run_file()
        ordered = sorted(stages, key=STAGE_ORDER.index)
        try:
            scenario = self.scenario(scenario_id)
        except CibenchError:
            if run is None:
                return SessionScenario(stages=ordered)
            return SessionScenario(
                stages=ordered,
                model=run.served_model_name or run.model or "",
                served_model_name=run.served_model_name,
                quant=run.quant or "",
                hardware=run.hardware or "",
                mode=run.mode or "",
            )
        served = self._served_model(scenario_id) or scenario.model_name
        return SessionScenario(
            stages=ordered,
            model=served if scenario.model == AUTO_MODEL else scenario.model,
            served_model_name=served,
            quant=scenario.quant,
            hardware=scenario.hardware,
            mode=scenario.mode,
        )

    def _served_model(self, scenario_id: str) -> str | None:
        """The model name the server itself reported (run.json), for scenarios with `auto`."""
        run = RunWriter(self.run_dir).scenario(scenario_id).run_file()
        served = run.served_model_name if run is not None else None
        return served if served and served != AUTO_MODEL else None


SESSION_KEY = pytest.StashKey[CibenchSession]()
"""Where the plugin keeps the run's `CibenchSession` (`config.stash[SESSION_KEY]`)."""
