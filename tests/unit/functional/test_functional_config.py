"""The functional case model: what YAML may say, what it may not, and the shipped suites."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from cibench.config.functional import FunctionalCase, FunctionalSuite
from cibench.config.loader import load_configs_collecting

REPO_CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SUITES = (
    "chat_core",
    "completions_core",
    "streaming",
    "multi_turn",
    "params_boundary",
    "function_call",
    "guided",
    "reasoning",
    "models_health",
    "openai_sdk",
)


def test_the_shipped_suites_load_and_hold_at_least_60_cases() -> None:
    configs, problems = load_configs_collecting(REPO_CONFIGS)
    assert [p for p in problems if "tests/functional" in p] == []
    counts = {suite.suite: len(suite.cases) for suite in configs.functional_suites}
    assert sorted(counts) == sorted(SUITES)
    assert sum(counts.values()) >= 60


def test_a_minimal_case_is_a_chat_request_expecting_200() -> None:
    case = FunctionalCase.model_validate({"id": "hello", "body": {"messages": []}})
    assert case.route == ("POST", "/v1/chat/completions")
    assert case.expect.statuses == (200,)
    assert case.capabilities_needed == ("chat",)


def test_capabilities_needed_adds_the_endpoint() -> None:
    case = FunctionalCase.model_validate(
        {"id": "t", "api": "detokenize", "requires": ["tokenize", "n"]}
    )
    assert case.capabilities_needed == ("tokenize", "n")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"api": "models", "stream": True},
            "'stream: true' is only for api 'chat' or 'completions'",
        ),
        ({"api": "raw", "path": "/x"}, "api 'raw' needs 'method' and 'path'"),
        ({"path": "/x"}, "'method'/'path' are only for api 'raw'"),
        ({"api": "completions", "followups": ["more"]}, "'followups' are only for api 'chat'"),
        ({"body": {"stream": True}}, "set streaming with the case's 'stream' key"),
        (
            {"expect": {"matches_non_stream": True}},
            "expect.matches_non_stream needs 'stream: true'",
        ),
        ({"expect": {"content_regex": "(unclosed"}}, "not a valid regular expression"),
        ({"expect": {"usage": ["tokens ~ 3"]}}, "expected '<sum> <op> <sum>'"),
        ({"expect": {"content_json_schema": {"type": "strang"}}}, "not a valid JSON schema"),
        ({"expect": {"finish_reason": "done"}}, "Input should be 'stop'"),
        ({"requires": ["telepathy"]}, "Input should be 'chat'"),
        ({"expect": {"satus": 400}}, "Extra inputs are not permitted"),
        ({"id": "has space"}, "String should match pattern"),
    ],
)
def test_rejects_inconsistent_cases(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        FunctionalCase.model_validate({"id": "c", **fields})


def test_duplicate_case_ids_are_rejected() -> None:
    with pytest.raises(ValidationError, match=re.escape("cases[1].id: duplicate case id 'a'")):
        FunctionalSuite.model_validate({"suite": "s", "cases": [{"id": "a"}, {"id": "a"}]})


def test_a_broken_suite_file_names_the_file_and_key(tmp_path: Path) -> None:
    root = tmp_path / "configs"
    (root / "tests" / "functional").mkdir(parents=True)
    (root / "tests" / "functional" / "mine.yaml").write_text(
        "suite: mine\ncases:\n  - id: a\n    expect: {status: 400, finish_reasn: stop}\n"
    )
    _, problems = load_configs_collecting(root)
    path = root / "tests" / "functional" / "mine.yaml"
    assert f"{path}: cases[0].expect.finish_reasn: unknown key (typo?)." in problems
