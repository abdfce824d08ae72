"""Broken configs and bad command-line values: each is an error naming the file, key or URL and
what to do; never a traceback, never a silent success."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fault_support import copy_configs, run_pytest, write_yaml
from hostile_server import HostileServer, answer

from cibench.config.loader import load_configs_collecting
from cibench.config.settings import Settings
from cibench.errors import CibenchError
from cibench.report.pipeline import PostSessionOptions, run_post_session
from cibench.session import CibenchOptions, CibenchSession


def problems_of(configs: Path) -> list[str]:
    _, problems = load_configs_collecting(configs)
    return problems


def edit_yaml(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    data.update(changes)
    write_yaml(path, data)


BROKEN = {
    "duplicate key": (
        lambda c: (c / "settings.yaml").write_text("job: a\njob: b\n"),
        ["settings.yaml", "key 'job' appears twice"],
    ),
    "not UTF-8": (
        lambda c: (c / "settings.yaml").write_bytes(b"job: caf\xe9\n"),
        ["settings.yaml", "not UTF-8", "0xe9"],
    ),
    "x.yml beside x.yaml": (
        lambda c: (c / "scenarios" / "local-sim.yml").write_text(
            (c / "scenarios" / "local-sim.yaml").read_text()
        ),
        ["local-sim.yaml and local-sim.yml", "only one is used"],
    ),
    "duplicate provider id": (
        lambda c: write_yaml(
            c / "providers.yaml",
            {
                "providers": [{"id": "p", "name": "a", "base_url": "http://h:1", "model_name": "m"}]
                * 2
            },
        ),
        ["providers.yaml", "id 'p' is used 2 times"],
    ),
    "provider shadows a scenario": (
        lambda c: write_yaml(
            c / "providers.yaml",
            {
                "providers": [
                    {"id": "local-sim", "name": "a", "base_url": "http://h:1", "model_name": "m"}
                ]
            },
        ),
        ["providers.yaml", "'local-sim' is also scenarios/local-sim.yaml"],
    ),
    "missing dataset": (
        lambda c: edit_yaml(c / "tests" / "accuracy" / "pr.yaml", dataset_path="datasets/nope.csv"),
        ["pr.yaml", "dataset_path", "nope.csv does not exist"],
    ),
    "missing k8s manifest": (
        lambda c: edit_yaml(
            c / "matrix.yaml",
            scenarios={"k8s-hybrid": {"pr": {"functional": True}}},
        ),
        ["k8s-hybrid.yaml", "k8s.manifests", "does not exist"],
    ),
    "unknown placeholder": (
        lambda c: edit_yaml(c / "scenarios" / "local-sim.yaml", command="{python} -m x {prot}"),
        ["local-sim.yaml", "command", "{prot}"],
    ),
    "unclosed quote": (
        lambda c: edit_yaml(c / "scenarios" / "local-sim.yaml", command="sh -c '{python} x"),
        ["local-sim.yaml", "command", "close every quote"],
    ),
    "unknown default scenario": (
        lambda c: edit_yaml(c / "settings.yaml", default_scenarios=["local-smi"]),
        ["settings.yaml", "default_scenarios[0]", "local-smi"],
    ),
    "empty functional subset": (
        lambda c: edit_yaml(
            c / "matrix.yaml",
            scenarios={"local-sim": {"pr": {"functional": True, "functional_subset": []}}},
        ),
        ["matrix.yaml", "functional_subset", "no functional case"],
    ),
    "failure ratio out of range": (
        lambda c: edit_yaml(c / "settings.yaml", gates={"max_failure_ratio": 5}),
        ["settings.yaml", "gates.max_failure_ratio", "less than or equal to 1"],
    ),
    "infinite timeout": (
        lambda c: edit_yaml(c / "tests" / "perf" / "profiles" / "pr.yaml", timeout_seconds=1e999),
        ["pr.yaml", "timeout_seconds", "finite"],
    ),
}


def test_the_shipped_configs_have_no_problem() -> None:
    assert problems_of(Path(__file__).resolve().parents[3] / "configs") == []


@pytest.mark.parametrize("name", list(BROKEN))
def test_lint_names_file_key_and_fix(name: str, tmp_path: Path) -> None:
    configs = copy_configs(tmp_path)
    breaks, expected = BROKEN[name]
    breaks(configs)
    text = "\n".join(problems_of(configs))
    for fragment in expected:
        assert fragment in text, f"{name}: {fragment!r} not in:\n{text}"


def run_dir_with_session(tmp_path: Path) -> Path:
    run_dir = tmp_path / "artifacts" / "run-1"
    run_dir.mkdir(parents=True)
    session = {"run_id": "run-1", "run_type": "daily", "scenarios": {}}
    (run_dir / "session.json").write_text(json.dumps(session))
    return run_dir


def test_an_interrupted_daily_run_pushes_nothing_and_fails_its_gates(tmp_path: Path) -> None:
    run_dir = run_dir_with_session(tmp_path)
    with HostileServer(lambda _: answer(200)) as gateway:
        options = PostSessionOptions("daily", gateway.url, None, True, interrupted=True)
        result = run_post_session(run_dir, Settings(), options, environ={})
        assert gateway.requests == []  # not even last_success_timestamp_seconds
    gates = json.loads((run_dir / "gates.json").read_text())
    assert gates["interrupted"] is True
    assert gates["failed"] is True
    assert result.failed


def test_a_baseline_that_does_not_exist_is_an_error_not_no_baseline(tmp_path: Path) -> None:
    run_dir = run_dir_with_session(tmp_path)
    options = PostSessionOptions("pr", None, str(tmp_path / "typo"), True)
    result = run_post_session(run_dir, Settings(), options, environ={})
    gates = json.loads((run_dir / "gates.json").read_text())
    assert result.failed
    assert result.exit_code != 0
    assert "typo: no such directory" in gates["baseline_error"]


def test_one_non_utf8_run_under_a_baseline_root_does_not_break_the_others(tmp_path: Path) -> None:
    run_dir = run_dir_with_session(tmp_path)
    broken = tmp_path / "artifacts" / "run-0"
    broken.mkdir()
    (broken / "session.json").write_bytes(b'{"run_id": "caf\xe9"}')
    options = PostSessionOptions("pr", None, str(tmp_path / "artifacts"), True)
    result = run_post_session(run_dir, Settings(), options, environ={})
    assert not result.failed, result.summary_lines


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"pushgateway_url": "not a url"}, "--pushgateway not a url: a URL cannot contain spaces"),
        ({"pushgateway_url": "http://[::1"}, "--pushgateway http://[::1: not a valid URL"),
        ({"metric_prefix": "9-bad prefix"}, "--metric-prefix '9-bad prefix': not a valid"),
    ],
)
def test_bad_run_options_are_refused_before_any_test(
    tmp_path: Path, options: dict[str, str], expected: str
) -> None:
    configs = Path(__file__).resolve().parents[3] / "configs"
    session = CibenchSession(CibenchOptions(configs_dir=configs, **options))  # type: ignore[arg-type]
    with pytest.raises(CibenchError) as caught:
        session.check_before_run()
    assert expected in str(caught.value)


def test_a_bad_option_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    configs = copy_configs(tmp_path)
    result = run_pytest(
        configs, tmp_path / "artifacts", "--metric-prefix", "9-bad prefix", "--collect-only"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 4, output[-2000:]  # pytest's usage error
    assert "--metric-prefix '9-bad prefix'" in output
    assert "Traceback" not in output


def test_a_run_id_that_already_holds_a_run_is_refused(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    run_dir_with_session(tmp_path)
    session = CibenchSession(CibenchOptions(artifacts_dir=artifacts, run_id="run-1"))
    with pytest.raises(Exception, match="already holds a run"):
        session.check_before_run()


def test_an_uncreatable_artifacts_dir_fails_the_tests_with_a_message(tmp_path: Path) -> None:
    configs = copy_configs(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_pytest(
        configs, blocker / "artifacts", "--scenario", "local-sim", "-k", "models_health"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "cannot create the run directory" in output
    assert "--artifacts" in output
    assert "Traceback" not in output
