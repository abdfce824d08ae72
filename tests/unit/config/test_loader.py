"""The config loader reports every problem at once, each naming the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.config.loader import load_configs, load_configs_collecting
from cibench.errors import ConfigError

REPO_CONFIGS = Path(__file__).resolve().parents[3] / "configs"

SCENARIO = """\
id: sim
mode: local
model: m
command: "{python} -m cibench.sim --host {host} --port {port} --model {model} {args}"
"""
PERF = "control_method: fixed\nconcurrency: [1, 2]\ninput_length: [16]\noutput_length: [8]\n"
SUITE = """\
suite: chat_core
cases:
  - id: hello
    body: {messages: [{role: user, content: hi}], max_tokens: 4}
"""
MATRIX = """\
scenarios:
  sim:
    pr: {functional: true, perf: true, perf_profile: pr}
"""


def write_configs(root: Path, **overrides: str) -> Path:
    """A minimal valid configs tree; `overrides` maps relative paths to replacement text."""
    files = {
        "scenarios/sim.yaml": SCENARIO,
        "tests/perf/profiles/pr.yaml": PERF,
        "tests/functional/chat_core.yaml": SUITE,
        "matrix.yaml": MATRIX,
        **{key.replace("__", "/"): value for key, value in overrides.items()},
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_shipped_configs_are_valid() -> None:
    configs, problems = load_configs_collecting(REPO_CONFIGS)
    assert problems == []
    assert "local-sim" in configs.scenarios


def test_minimal_tree_loads(tmp_path: Path) -> None:
    configs = load_configs(write_configs(tmp_path))
    assert configs.scenarios["sim"].model_name == "m"
    assert [p.id for p in configs.perf_profiles["pr"].load_points()] == [
        "c1-in16-out8",
        "c2-in16-out8",
    ]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"matrix.yaml": "scenarios:\n  nope:\n    pr: {functional: true}\n"},
            "matrix.yaml: scenarios.nope: unknown scenario",
        ),
        (
            {"scenarios__sim.yaml": SCENARIO.replace("mode: local", "mode: docker")},
            "sim.yaml: mode: Input should be 'local', 'k8s-hybrid', 'k8s-pd' or 'external'",
        ),
        (
            {"tests__perf__profiles__pr.yaml": PERF.replace("[1, 2]", "[1, -4]")},
            "pr.yaml: concurrency[1]: Input should be greater than 0; got -4.",
        ),
        (
            {
                "tests__perf__profiles__pr.yaml": PERF.replace(
                    "output_length: [8]", "output_length: [0]"
                )
            },
            "pr.yaml: output_length[0]: Input should be greater than 0; got 0.",
        ),
        (
            {"matrix.yaml": MATRIX.replace("perf_profile: pr", "perf_profile: nightly")},
            "matrix.yaml: scenarios.sim.pr.perf_profile: 'nightly' is not a file",
        ),
        (
            {"scenarios__sim.yaml": SCENARIO + "args: {a: 1\n"},
            "sim.yaml: line 6, column 1: YAML syntax error",
        ),
        (
            {"tests__functional__chat_core.yaml": SUITE + "  - id: hello\n    body: {}\n"},
            "chat_core.yaml: cases[1].id: duplicate case id 'hello'",
        ),
        (
            {"scenarios__sim.yaml": SCENARIO + "concurency: 3\n"},
            "sim.yaml: concurency: unknown key (typo?).",
        ),
    ],
    ids=[
        "unknown-scenario",
        "bad-enum",
        "negative-concurrency",
        "zero-output",
        "missing-profile",
        "yaml-syntax",
        "duplicate-case",
        "typo-key",
    ],
)
def test_broken_config_names_file_and_key(
    tmp_path: Path, override: dict[str, str], expected: str
) -> None:
    _, problems = load_configs_collecting(write_configs(tmp_path, **override))
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    root = write_configs(
        tmp_path,
        **{
            "tests__perf__profiles__pr.yaml": PERF.replace("[1, 2]", "[-1, -2]"),
            "matrix.yaml": "scenarios:\n  ghost:\n    pr: {functional: true}\n",
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_configs(root)
    assert len(caught.value.problems) == 3
    assert all(str(root) in problem for problem in caught.value.problems)


def test_missing_matrix_is_a_problem(tmp_path: Path) -> None:
    root = write_configs(tmp_path)
    (root / "matrix.yaml").unlink()
    _, problems = load_configs_collecting(root)
    assert problems == [
        f"{root / 'matrix.yaml'}: missing. Every run needs a matrix (see the README)."
    ]


def test_local_scenario_without_command_is_rejected(tmp_path: Path) -> None:
    root = write_configs(tmp_path, scenarios__sim_yaml="")
    (root / "scenarios" / "sim.yaml").write_text("id: sim\nmode: local\nmodel: m\n")
    _, problems = load_configs_collecting(root)
    assert any("mode 'local' needs 'command'" in p for p in problems), problems
