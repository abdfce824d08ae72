"""`CibenchSession`: one run's state — options, configs, plan, servers, post-session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cibench import __version__
from cibench.artifacts import RunWriter, SessionFile, SessionScenario
from cibench.artifacts.files import STAGE_ORDER
from cibench.config.declared import with_declared
from cibench.config.loader import ConfigSet, load_configs
from cibench.config.matrix import RunType, Stage
from cibench.config.options import CibenchOptions
from cibench.config.scenario import Scenario
from cibench.config.settings import Settings
from cibench.errors import CibenchError
from cibench.plan import ScenarioPlan, build_plan
from cibench.runinfo import detect_branch, detect_commit, new_run_id, utc_now_iso
from cibench.servers import RunFacts, ServerPool


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

    @property
    def run_id(self) -> str:
        if self._run_id is None:
            self._run_id = self.options.run_id or new_run_id()
        return self._run_id

    @property
    def configs(self) -> ConfigSet:
        """The validated configs (raises `ConfigError` listing every problem)."""
        if self._configs is None:
            self._configs = load_configs(self.options.configs_dir)
        return self._configs

    @property
    def settings(self) -> Settings:
        """settings.yaml with the run's overrides applied."""
        return self.options.settings_with_overrides(self.configs.settings)

    @property
    def run_dir(self) -> Path:
        """`artifacts/<run_id>/`."""
        return self.options.artifacts_or(self.configs.settings) / self.run_id

    def scenario_ids(self) -> list[str]:
        """The selected scenario ids: `--scenario` values, else settings' default scenarios."""
        names = self.options.scenarios or self.configs.settings.default_scenarios
        ids: list[str] = []
        for name in names:
            scenario = self.scenario(name)
            ids.append(scenario.id)
        return ids

    def scenario(self, name: str) -> Scenario:
        """Resolve a `--scenario` value: a config id, a providers.yaml id, or a base URL."""
        if name not in self._scenarios:
            if name.startswith(("http://", "https://")):
                scenario = Scenario.from_url(name, self.options.model or "auto")
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
        """The key a scenario's server expects: given with `use_scenario`, else providers.yaml."""
        if scenario_id in self._api_keys:
            return self._api_keys[scenario_id]
        return self.configs.provider_api_key(scenario_id)

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

    def close_servers(self) -> None:
        """Stop whatever scenario server is still running."""
        if self._pool is not None:
            self._pool.stop_current()

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
            scenario = self.scenario(scenario_id)
            scenarios[scenario_id] = SessionScenario(
                stages=sorted(stages, key=STAGE_ORDER.index),
                model=scenario.model,
                served_model_name=scenario.model_name,
                quant=scenario.quant,
                hardware=scenario.hardware,
                mode=scenario.mode,
            )
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
