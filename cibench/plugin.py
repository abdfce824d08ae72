"""pytest entry point: options, markers, fixtures and thin hooks that call `CibenchSession`.

The functional stage's fixtures are in `cibench.functional_plugin`, registered here.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from cibench.client.guard import GuardLimits, GuardState, RequestGuard
from cibench.config.declared import features_from_file, parse_features
from cibench.config.matrix import STAGES, Stage
from cibench.config.options import BY_FIELD, OPTIONS, CibenchOptions, resolve_options
from cibench.config.scenario import Scenario
from cibench.errors import CibenchError, ConfigError
from cibench.failures.logscan import LogPattern, load_patterns
from cibench.launch import Endpoint
from cibench.plan import AccuracyItem, FunctionalItem, PerfItem, StageOff
from cibench.postsession import PostSession
from cibench.redact import contains_secret, scrub
from cibench.session import SESSION_KEY, CibenchSession, RunContext

if TYPE_CHECKING:
    import openai

PARAM_STAGES: dict[str, Stage] = {
    "functional_case": "functional",
    "perf_point": "perf",
    "accuracy_run": "accuracy",
}
FLAGS = (
    "--run-type",
    "--configs",
    "--artifacts",
    "--pushgateway",
    "--baseline",
    "--run-id",
    "--metric-prefix",
    "--scenario-id",
    "--capability-baseline",
    "--require-baseline",
)
"""The options of `cibench.config.options.OPTIONS` that pytest takes (`--instance` is the
env var's alone here)."""
MARKERS = {
    "functional": "API conformance cases from configs/tests/functional/ (cibench)",
    "perf": "load points from the scenario's perf profile (cibench)",
    "accuracy": "simple-evals GPQA from the scenario's accuracy profile (cibench)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cibench", "cibench: benchmark an OpenAI-compatible LLM server")
    group.addoption(
        "--scenario",
        action="append",
        default=None,
        metavar="ID",
        help="scenario id from configs/scenarios/, a providers.yaml id, or a base URL "
        "such as http://127.0.0.1:8000 (repeatable; default: settings.yaml "
        "default_scenarios, i.e. local-sim)",
    )
    group.addoption(
        "--run-type",
        default=None,
        metavar="pr|daily",
        help="which matrix column to run; daily also pushes "
        "metrics (default: pr, env CIBENCH_RUN_TYPE)",
    )
    group.addoption(
        "--configs",
        default=None,
        metavar="DIR",
        help="configs directory (default: ./configs, env CIBENCH_CONFIGS)",
    )
    group.addoption(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="where run directories go (default: settings.yaml artifacts_dir, "
        "env CIBENCH_ARTIFACTS)",
    )
    group.addoption(
        "--pushgateway",
        default=None,
        metavar="URL",
        help="Pushgateway for daily runs (default: settings.yaml "
        "pushgateway_url, env CIBENCH_PUSHGATEWAY_URL)",
    )
    group.addoption(
        "--baseline",
        default=None,
        metavar="SRC",
        help="regression baseline: a previous run directory, or 'pushgateway' to "
        "read the daily group back (default: settings.yaml baseline, env CIBENCH_BASELINE)",
    )
    group.addoption(
        "--capability-baseline",
        default=None,
        metavar="SRC",
        help="capabilities a previous run's probe found (a capabilities.json, a run directory "
        "or an artifacts root: the newest daily run); one found there and missing now fails "
        "its cases instead of skipping them ('off' disables; default: settings.yaml "
        "capability_baseline, else --baseline when it is a directory; env "
        "CIBENCH_CAPABILITY_BASELINE)",
    )
    group.addoption(
        "--features",
        default=None,
        metavar="LIST",
        help="declare capabilities for every selected scenario, e.g. chat,logprobs,n=false: "
        "declared ones must work (their cases fail instead of skipping); for a base-URL "
        "scenario this replaces the scenario file's features section",
    )
    group.addoption(
        "--expect-capabilities",
        default=None,
        metavar="FILE",
        help="declare capabilities from a YAML/JSON file: a list of names, a mapping of name "
        "to true/false, or a capabilities.json from an earlier run",
    )
    group.addoption(
        "--require-baseline",
        action="store_true",
        default=None,
        help="fail the run (exit 6) when the baseline is missing, unreadable or lacks a load "
        "point (default: settings.yaml require_baseline, env CIBENCH_REQUIRE_BASELINE=1)",
    )
    group.addoption(
        "--no-gates",
        action="store_true",
        default=False,
        help="report gate verdicts but never change the exit status",
    )
    group.addoption(
        "--run-id",
        default=None,
        metavar="ID",
        help="run id (default: a new timestamped id; env CIBENCH_RUN_ID)",
    )
    group.addoption(
        "--metric-prefix",
        default=None,
        metavar="PREFIX",
        help="metric name prefix, may be empty (default: settings.yaml metric_prefix, "
        "env CIBENCH_METRIC_PREFIX)",
    )
    group.addoption(
        "--scenario-id",
        default=None,
        metavar="ID",
        help="scenario id for a base-URL --scenario (default: the served model's name, so "
        "baselines survive a port change; env CIBENCH_SCENARIO_ID)",
    )
    group.addoption(
        "--model",
        default=None,
        metavar="NAME",
        help="override the scenario's model name (for a base-URL scenario the "
        "default is the first model GET /v1/models lists)",
    )


def _declared(config: pytest.Config) -> dict[str, bool]:
    declared: dict[str, bool] = {}
    try:
        path = config.getoption("--expect-capabilities")
        if path:
            declared.update(features_from_file(Path(path)))
        text = config.getoption("--features")
        if text:
            declared.update(parse_features(text))
    except CibenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    return declared


def _options(config: pytest.Config) -> CibenchOptions:
    given = {
        option.field: config.getoption(option.flag) for option in OPTIONS if option.flag in FLAGS
    }
    # xdist workers take the controller's run id, so that all write to one run directory
    given["run_id"] = getattr(config, "workerinput", {}).get("cibench_run_id") or given["run_id"]
    try:
        options = resolve_options(
            given,
            os.environ,
            scenarios=config.getoption("--scenario"),
            gates_enabled=not config.getoption("--no-gates"),
            model=config.getoption("--model"),
            declared_features=_declared(config),
        )
    except ConfigError as exc:
        raise pytest.UsageError("\n".join(exc.problems)) from exc
    if given["configs_dir"] is None and BY_FIELD["configs_dir"].env not in os.environ:
        default = Path("configs") if Path("configs").is_dir() else config.rootpath / "configs"
        options = replace(options, configs_dir=default)
    return options


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


PATH_OPTIONS = (
    "--configs",
    "--artifacts",
    "--baseline",
    "--capability-baseline",
    "--expect-capabilities",
)
INI_NAMES = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def _check_path_options(config: pytest.Config) -> None:
    """Refuse `--configs /abs/dir` when it made pytest pick the wrong rootdir.

    pytest chooses its rootdir and ini file before plugins register their options, so the
    value after `--configs ` counts as a test path then. Outside the project that moves the
    rootdir, the ini's `testpaths` are lost and pytest collects whatever is in the cwd.
    """
    args = [str(arg) for arg in config.invocation_params.args]
    cwd = Path.cwd().resolve()
    ini_here = any((cwd / name).is_file() for name in INI_NAMES)
    for index, arg in enumerate(args[:-1]):
        value = args[index + 1]
        if arg not in PATH_OPTIONS or not Path(value).exists():
            continue
        if not cwd.is_relative_to(config.rootpath) or (config.inipath is None and ini_here):
            raise pytest.UsageError(
                f"{arg} {value}: pytest took this path for a test path when it chose its "
                f"rootdir ({config.rootpath}), so it would collect the wrong tests. "
                f"Write {arg}={value} instead."
            )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _check_path_options(config)
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    worker = (
        os.environ.get("PYTEST_XDIST_WORKER", "master") if _is_xdist_worker(config) else "master"
    )
    session = CibenchSession(_options(config), worker_id=worker)
    config.stash[SESSION_KEY] = session
    _interrupt_on_sigterm()
    config.pluginmanager.register(PostSession(session), "cibench-post-session")
    # imported here, not at the top: `import cibench.plugin` stays cheap (tests/unit)
    from cibench import functional_plugin

    config.pluginmanager.register(functional_plugin, "cibench-functional")
    # Tests of one scenario share one server, and perf must never run beside other tests on
    # it: keep each scenario on one worker (xdist_group marks are set at collection).
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("cibench_loadgroup"):
        # Workers re-parse the command line (where --dist may be absent) and decide on group
        # suffixes from `option.loadgroup`; the controller tells them what it chose.
        config.option.loadgroup = True


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (what CI runners send on cancel) like Ctrl-C.

    pytest then unwinds as for an interrupt: the server's process group is stopped, partial
    results stay on disk, gates.json says `interrupted`, and nothing is pushed. Without this,
    SIGTERM ends the process at once and leaves the server running.
    """
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: give every worker the same run id, so all write to one run directory."""
    node.workerinput["cibench_run_id"] = node.config.stash[SESSION_KEY].run_id
    node.workerinput["cibench_loadgroup"] = node.config.option.dist == "loadgroup"


def _session(config: pytest.Config) -> CibenchSession:
    return config.stash[SESSION_KEY]


def _usage_error(exc: CibenchError) -> pytest.UsageError:
    lines = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    hint = "Run `cibench lint` to check every config without starting a server."
    return pytest.UsageError(scrub("\n".join([*lines, hint])))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    wanted = [name for name in PARAM_STAGES if name in metafunc.fixturenames]
    if not wanted:
        return
    session = _session(metafunc.config)
    try:
        plans = session.plans()
    except CibenchError as exc:
        # Raised from pytest_collection_modifyitems instead: an error raised here would be
        # shown as a collection traceback rather than a plain usage error.
        session.plan_error = exc
        for argname in wanted:
            metafunc.parametrize(argname, [])
        return
    for argname in wanted:
        stage = PARAM_STAGES[argname]
        params = []
        for plan in plans:
            if stage in plan.off:
                off = StageOff(plan.scenario_id, stage, plan.off[stage])
                params.append(
                    pytest.param(off, id=off.id, marks=pytest.mark.skip(reason=off.reason))
                )
                continue
            items: list[FunctionalItem] | list[PerfItem] | list[AccuracyItem] = getattr(plan, stage)
            params.extend(pytest.param(item, id=item.id) for item in items)
        metafunc.parametrize(argname, params)


def _item_param(item: pytest.Item) -> Any:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for argname in PARAM_STAGES:
        value = callspec.params.get(argname)
        if hasattr(value, "scenario_id"):  # not the NOTSET of an empty parameter set
            return value
    return None


def pytest_itemcollected(item: pytest.Item) -> None:
    """Tag stage tests as they are collected, before xdist reads the `xdist_group` marks."""
    param = _item_param(item)
    if param is None:
        return
    stage: Stage = param.stage if isinstance(param, StageOff) else _stage_of(item)
    item.add_marker(pytest.mark.xdist_group(name=param.scenario_id))
    item.user_properties.append(("cibench_scenario", param.scenario_id))
    item.user_properties.append(("cibench_stage", stage))
    item.user_properties.append(("cibench_off", isinstance(param, StageOff)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order stage tests scenario by scenario, functional → perf → accuracy."""
    error = _session(config).plan_error
    if error is not None:
        raise _usage_error(error)
    order: dict[str, int] = {}
    keyed: list[tuple[tuple[int, int, int], pytest.Item]] = []
    for index, item in enumerate(items):
        props = dict(item.user_properties)
        if "cibench_scenario" not in props:
            keyed.append(((-1, 0, index), item))
            continue
        rank = order.setdefault(str(props["cibench_scenario"]), len(order))
        keyed.append(((rank, STAGES.index(props["cibench_stage"]), index), item))
    items[:] = [item for _, item in sorted(keyed, key=lambda pair: pair[0])]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Blank API keys out of every report before the terminal, JUnit or xdist sees it.

    A server that echoes the Authorization header puts the key into a failure message.
    """
    report: pytest.TestReport = yield
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], scrub(longrepr[2]))
    elif longrepr is not None and contains_secret(str(longrepr)):
        report.longrepr = scrub(str(longrepr))
    report.sections = [(title, scrub(content)) for title, content in report.sections]
    return report


def _stage_of(item: pytest.Item) -> Stage:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    for argname, stage in PARAM_STAGES.items():
        if argname in params:
            return stage
    raise AssertionError(f"{item.nodeid} has no cibench parameter")


@pytest.fixture(scope="session")
def cibench_run(pytestconfig: pytest.Config) -> RunContext:
    """The run: id, run type, configs, settings, run directory, xdist worker id."""
    try:
        return _session(pytestconfig).context()
    except CibenchError as exc:
        raise _usage_error(exc) from exc


@pytest.fixture(scope="session")
def _cibench_servers(pytestconfig: pytest.Config) -> Iterator[CibenchSession]:
    session = _session(pytestconfig)
    yield session
    session.close_servers()


@pytest.fixture
def scenario(request: pytest.FixtureRequest, _cibench_servers: CibenchSession) -> Scenario:
    """The scenario of the current stage test."""
    param = _item_param(request.node)
    if param is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the 'scenario' and 'server' fixtures need a cibench "
            f"parameter ({', '.join(PARAM_STAGES)}) in the test's signature."
        )
    return _cibench_servers.scenario(param.scenario_id)


@pytest.fixture
def server(scenario: Scenario, _cibench_servers: CibenchSession) -> Endpoint:
    """The scenario's running server (started once, shared by all its tests)."""
    try:
        return _cibench_servers.pool.endpoint(scenario)
    except CibenchError as exc:
        reason = scrub(str(exc))
    pytest.fail(reason, pytrace=False)  # outside `except`: no chained traceback in the report


@pytest.fixture
def stage_dir(scenario: Scenario, _cibench_servers: CibenchSession) -> Path:
    """`artifacts/<run_id>/<scenario>/`, where a stage writes its CSV and JSON files."""
    try:
        return _cibench_servers.pool.scenario_dir(scenario.id)
    except CibenchError as exc:
        reason = scrub(str(exc))
    pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="session")
def log_patterns(_cibench_servers: CibenchSession) -> tuple[LogPattern, ...]:
    """The server-log pattern library: built-in plus `<configs>/log_patterns.yaml`."""
    try:
        return tuple(load_patterns(_cibench_servers.options.configs_dir))
    except CibenchError as exc:
        raise _usage_error(exc) from exc


@pytest.fixture
def artifacts(stage_dir: Path) -> Path:
    """Alias of `stage_dir` (the name SPEC §3 uses)."""
    return stage_dir


@pytest.fixture(scope="session")
def _guard_states() -> dict[str, GuardState]:
    return {}


@pytest.fixture
def request_guard(
    server: Endpoint, cibench_run: RunContext, _guard_states: dict[str, GuardState]
) -> Iterator[RequestGuard]:
    """This test's `RequestGuard`: its own connections (closed after the test, as a server
    with few HTTP threads needs), the scenario's shared state (stage deadline, hung count,
    refusal)."""
    timeouts = cibench_run.settings.functional_timeouts
    limits = GuardLimits(
        request_seconds=timeouts.request_seconds,
        stage_seconds=timeouts.stage_seconds,
        consecutive_timeouts=timeouts.consecutive_timeouts,
        max_retry_after_seconds=timeouts.max_retry_after_seconds,
    )
    state = _guard_states.setdefault(server.scenario.id, GuardState())
    guard = RequestGuard(limits, state=state)
    yield guard
    guard.close()


@pytest.fixture
def http_client(server: Endpoint, request_guard: RequestGuard) -> Iterator[httpx.Client]:
    """An httpx client on the server's base URL with its auth header, bounded by the guard.

    Timeouts, 401/403 and 429 handling come from settings.yaml `functional_timeouts`.
    """
    with httpx.Client(
        base_url=server.base_url,
        headers=server.headers(),
        timeout=request_guard.limits.request_seconds,
        transport=request_guard,
    ) as client:
        yield client


@pytest.fixture
def openai_client(server: Endpoint) -> Iterator[openai.OpenAI]:
    """The official OpenAI client pointed at the server (imported on first use: it is slow)."""
    import openai

    client = openai.OpenAI(base_url=server.api_base, api_key=server.api_key or "EMPTY")
    yield client
    client.close()
