"""The functional stage FAILS against broken servers: each conformance breaker is caught.

One pytest session (a subprocess, exactly as CI runs the stage) covers several `local`
scenarios that start the simulator with one breaker each, plus a healthy control running the
same cases. Each scenario runs only the cases its breaker should trip (matrix
`functional_subset`), and the proofs read the resulting `functional.csv` files.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
RUN_ID = "proof"
COMMAND = (
    "{python} -m cibench.sim --host {host} --port {port} --model {model} "
    "--served-model-name {served_model_name} {args}"
)
GUIDED = ["guided"]
STREAMS = ["streaming::chat_basic", "streaming::completions_basic", "chat_core::basic"]
FINISH = [
    "chat_core::max_tokens_length",
    "completions_core::max_tokens_length",
    "streaming::chat_length",
    "chat_core::basic",
]
INVALID = [
    "params_boundary::temperature_negative",
    "params_boundary::top_p_zero",
    "chat_core::missing_messages",
    "chat_core::basic",
]
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    # id: (simulator args, features, functional_subset)
    "healthy": ({}, {}, sorted({*GUIDED, *STREAMS, *FINISH, *INVALID})),
    "ignores-schema-claimed": ({"ignore_json_schema": True}, {"guided_decoding": True}, GUIDED),
    "ignores-schema-unclaimed": ({"ignore_json_schema": True}, {}, GUIDED),
    "omits-done": ({"omit_done": True}, {}, STREAMS),
    "wrong-finish": ({"wrong_finish_reason": True}, {}, FINISH),
    "errors-500": ({"invalid_params_500": True}, {}, INVALID),
    "sick-after-400": ({"unhealthy_after_bad_request": True}, {}, INVALID[:1]),
    "never-starts": ({"no_such_flag": True}, {}, ["models_health::health"]),
}
Rows = dict[str, dict[str, tuple[str, str]]]


def _write_configs(root: Path) -> None:
    shutil.copytree(REPO / "configs", root)
    for scenario_id, (args, features, _) in SCENARIOS.items():
        scenario = {
            "id": scenario_id,
            "mode": "local",
            "model": "sim/qwen-mini",
            "served_model_name": "sim-qwen-mini",
            "command": COMMAND,
            "args": {"seed": 0, **args},
            "features": features,
            "startup_timeout_seconds": 30,
        }
        (root / "scenarios" / f"{scenario_id}.yaml").write_text(yaml.safe_dump(scenario))
    matrix = {
        "scenarios": {
            scenario_id: {"pr": {"functional": True, "functional_subset": subset}}
            for scenario_id, (_, _, subset) in SCENARIOS.items()
        }
    }
    (root / "matrix.yaml").write_text(yaml.safe_dump(matrix))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Rows]:
    """Run the functional stage once over every scenario; (exit code, output, CSV rows)."""
    work = tmp_path_factory.mktemp("proofs")
    _write_configs(work / "configs")
    argv = [sys.executable, "-m", "pytest", "tests/functional", "-p", "no:cacheprovider", "-q"]
    for scenario_id in SCENARIOS:
        argv += ["--scenario", scenario_id]
    argv += ["--configs", str(work / "configs"), "--artifacts", str(work / "artifacts")]
    argv += ["--run-id", RUN_ID]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    rows: Rows = {}
    for scenario_id in SCENARIOS:
        path = work / "artifacts" / RUN_ID / scenario_id / "functional.csv"
        with path.open(newline="", encoding="utf-8") as handle:
            rows[scenario_id] = {
                f"{r['suite']}::{r['case_id']}": (r["status"], r["reason"])
                for r in csv.DictReader(handle)
            }
    return done.returncode, done.stdout + done.stderr, rows


def statuses(outcome: tuple[int, str, Rows], scenario_id: str) -> dict[str, str]:
    return {case: status for case, (status, _) in outcome[2][scenario_id].items()}


def reason(outcome: tuple[int, str, Rows], scenario_id: str, case_id: str) -> str:
    return outcome[2][scenario_id][case_id][1]


def test_the_session_fails(outcome: tuple[int, str, Rows]) -> None:
    code, output, _ = outcome
    assert code == 1, output[-3000:]


def test_a_healthy_simulator_passes_every_case_the_breakers_trip(
    outcome: tuple[int, str, Rows],
) -> None:
    healthy = statuses(outcome, "healthy")
    assert set(healthy.values()) == {"pass"}, outcome[2]["healthy"]
    broken = [s for s in SCENARIOS if s != "never-starts"]
    tripped = {case for scenario_id in broken for case in statuses(outcome, scenario_id)}
    assert set(healthy) == tripped


def test_json_schema_ignored_fails_when_the_scenario_claims_guided_decoding(
    outcome: tuple[int, str, Rows],
) -> None:
    assert statuses(outcome, "ignores-schema-claimed") == {
        "guided::json_object": "fail",
        "guided::json_schema_flat": "fail",
        "guided::json_schema_nested": "fail",
        "guided::json_schema_enum": "fail",
        "guided::json_schema_stream": "fail",
        "guided::json_schema_missing_schema": "pass",
    }
    assert "content is not JSON" in reason(
        outcome, "ignores-schema-claimed", "guided::json_schema_flat"
    )


def test_json_schema_ignored_skips_with_evidence_when_nothing_claims_it(
    outcome: tuple[int, str, Rows],
) -> None:
    assert set(statuses(outcome, "ignores-schema-unclaimed").values()) == {"skip"}
    why = reason(outcome, "ignores-schema-unclaimed", "guided::json_schema_flat")
    assert why.startswith("capability 'guided_decoding' unsupported (probe: a chat request with ")
    assert "does not validate" in why
    assert "set features.guided_decoding: true in" in why


def test_a_stream_without_done_fails(outcome: tuple[int, str, Rows]) -> None:
    assert statuses(outcome, "omits-done") == {
        "chat_core::basic": "pass",
        "streaming::chat_basic": "fail",
        "streaming::completions_basic": "fail",
    }
    assert reason(outcome, "omits-done", "streaming::chat_basic") == (
        "the stream ended without a 'data: [DONE]' event"
    )


def test_a_wrong_finish_reason_fails(outcome: tuple[int, str, Rows]) -> None:
    assert statuses(outcome, "wrong-finish") == {
        "chat_core::basic": "pass",
        "chat_core::max_tokens_length": "fail",
        "completions_core::max_tokens_length": "fail",
        "streaming::chat_length": "fail",
    }
    assert reason(outcome, "wrong-finish", "streaming::chat_length") == (
        "choice 0: finish_reason 'stop', expected length"
    )


def test_500_on_invalid_params_fails(outcome: tuple[int, str, Rows]) -> None:
    assert statuses(outcome, "errors-500") == {
        "chat_core::basic": "pass",
        "chat_core::missing_messages": "fail",
        "params_boundary::temperature_negative": "fail",
        "params_boundary::top_p_zero": "fail",
    }
    why = reason(outcome, "errors-500", "params_boundary::top_p_zero")
    assert why.startswith("HTTP status 500, expected 400: POST /v1/chat/completions -> 500")


def test_a_server_unhealthy_after_a_bad_request_fails(outcome: tuple[int, str, Rows]) -> None:
    assert statuses(outcome, "sick-after-400") == {"params_boundary::temperature_negative": "fail"}
    assert reason(outcome, "sick-after-400", "params_boundary::temperature_negative") == (
        "server unhealthy after the request: GET /health -> 503 ''"
    )


def test_a_server_that_never_starts_fails_its_cases_with_the_reason(
    outcome: tuple[int, str, Rows],
) -> None:
    assert statuses(outcome, "never-starts") == {"models_health::health": "fail"}
    why = reason(outcome, "never-starts", "models_health::health")
    assert why.startswith("setup: ")
    assert "never-starts" in why
