"""The capability probe: verdicts from replies, skip decisions, and probing real simulators."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from func_support import SCHEMAS, chat_body, json_reply

from cibench.config.scenario import Features
from cibench.functional.capabilities import Capabilities, probe, skip_reason
from cibench.functional.observation import Reply
from cibench.functional.verdicts import (
    Finding,
    judge_error_style,
    judge_guided,
    judge_reasoning,
    judge_tools,
)
from cibench.sim.testing import run_simulator

FILE = "configs/scenarios/x.yaml"


def probed(**findings: str) -> Capabilities:
    return Capabilities(
        scenario_id="x", findings={k: Finding(v, f"evidence {k}") for k, v in findings.items()}
    )


# ---- skip decisions -------------------------------------------------------------------------


def test_supported_and_unknown_capabilities_run() -> None:
    caps = probed(chat="yes", guided_decoding="unknown")
    assert skip_reason(("chat", "guided_decoding"), Features(), caps, FILE) is None


def test_unsupported_capability_skips_with_the_evidence() -> None:
    reason = skip_reason(
        ("chat", "guided_decoding"), Features(), probed(guided_decoding="no"), FILE
    )
    assert reason == (
        "capability 'guided_decoding' unsupported (probe: evidence guided_decoding); "
        "set features.guided_decoding: true in configs/scenarios/x.yaml to run these cases anyway"
    )


def test_a_feature_forced_on_runs_even_when_the_probe_says_no() -> None:
    forced = Features(guided_decoding=True)
    assert skip_reason(("guided_decoding",), forced, probed(guided_decoding="no"), FILE) is None


def test_a_feature_forced_off_skips_even_when_supported() -> None:
    reason = skip_reason(("reasoning",), Features(reasoning=False), probed(reasoning="yes"), FILE)
    assert reason == "capability 'reasoning' is off: features.reasoning: false in " + FILE


def test_vllm_behaviours_can_be_forced_on_a_vllm_scenario() -> None:
    lenient = probed(strict_validation="no", vllm_metrics="no")
    forced = Features(strict_validation=True, vllm_metrics=True)
    assert skip_reason(("strict_validation", "vllm_metrics"), forced, lenient, FILE) is None
    assert skip_reason(("strict_validation",), Features(), lenient, FILE) == (
        "capability 'strict_validation' unsupported (probe: evidence strict_validation); "
        "set features.strict_validation: true in configs/scenarios/x.yaml to run these cases "
        "anyway"
    )


def test_capabilities_without_a_feature_flag_cannot_be_forced() -> None:
    reason = skip_reason(("n",), Features(), probed(n="no"), FILE)
    assert reason == "capability 'n' unsupported (probe: evidence n)"


# ---- verdicts from replies ------------------------------------------------------------------


def tool_reply(**message: object) -> Reply:
    return json_reply(chat_body(None, "tool_calls", **message))


def test_tools_honoured_ignored_refused_or_cut_short() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    assert judge_tools(tool_reply(tool_calls=[call])).support == "yes"
    ignored = judge_tools(json_reply(chat_body("It is sunny.")))
    assert ignored == Finding(
        "no", "a chat request with tool_choice 'required' -> 200 without tool_calls (tools ignored)"
    )
    assert judge_tools(json_reply({"error": {"message": "no parser"}}, 400)).support == "no"
    assert judge_tools(json_reply(chat_body("", finish_reason="length"))).support == "unknown"
    assert judge_tools(json_reply({"error": {"message": "boom"}}, 500)).support == "unknown"


def test_guided_needs_output_that_validates() -> None:
    valid = json_reply(chat_body('{"answer": "sunny", "confidence": 3}'))
    assert judge_guided(valid).support == "yes"
    ignored = judge_guided(json_reply(chat_body('{"answer": "sunny"}')))
    assert ignored.support == "no"
    assert "does not validate" in ignored.evidence


def test_reasoning_key_is_detected() -> None:
    new = judge_reasoning(json_reply(chat_body("Hi.", reasoning="thinking")))
    assert new == (
        Finding("yes", "a plain chat request -> reasoning under 'reasoning'"),
        "reasoning",
    )
    old = judge_reasoning(json_reply(chat_body("Hi.", reasoning_content="thinking")))
    assert old[1] == "reasoning_content"
    assert judge_reasoning(json_reply(chat_body("Hi.")))[0].support == "no"
    assert judge_reasoning(Reply("POST", "/v1/chat/completions", None, transport_error="x"))[
        0
    ].support == ("unknown")


def test_error_envelope_style_is_detected() -> None:
    nested = {"error": {"message": "no model", "type": "NotFoundError", "code": 404}}
    flat = {"object": "error", "message": "no model", "type": "NotFoundError", "code": 404}
    assert judge_error_style(json_reply(nested, 404), SCHEMAS)[0] == "nested"
    assert judge_error_style(json_reply(flat, 404), SCHEMAS)[0] == "flat"
    assert judge_error_style(json_reply({"detail": "Not Found"}, 404), SCHEMAS)[0] is None


# ---- probing real simulators ----------------------------------------------------------------


@pytest.fixture(scope="module")
def default_caps() -> Iterator[Capabilities]:
    with run_simulator("--model", "m", "--reasoning") as url, httpx.Client(base_url=url) as client:
        yield probe(client, "sim", "m", SCHEMAS)


def test_the_simulator_supports_everything(default_caps: Capabilities) -> None:
    assert {name: f.support for name, f in default_caps.findings.items()} == {
        "chat": "yes",
        "completions": "yes",
        "reasoning": "yes",
        "function_call": "yes",
        "guided_decoding": "yes",
        "logprobs": "yes",
        "n": "yes",
        "tokenize": "yes",
        "metrics": "yes",
        "deterministic": "yes",
        "version": "yes",
        "strict_validation": "yes",
        "model_check": "yes",
        "echo": "yes",
        "completions_logprobs": "yes",
        "top_logprobs_zero": "yes",
        "continuous_usage": "yes",
        "vllm_tokenize": "yes",
        "vllm_metrics": "yes",
    }
    assert default_caps.error_style == "nested"
    assert default_caps.completions_usage == "separate"
    assert default_caps.reasoning_key == "reasoning_content"
    assert default_caps.served_models == ("m",)
    assert default_caps.version is not None


def test_a_simulator_of_older_vllm_is_recognised() -> None:
    args = (
        "--model",
        "m",
        "--reasoning",
        "--reasoning-key",
        "reasoning",
        "--error-envelope",
        "flat",
    )
    with run_simulator(*args) as url, httpx.Client(base_url=url) as client:
        caps = probe(client, "old", "m", SCHEMAS)
    assert caps.error_style == "flat"
    assert caps.reasoning_key == "reasoning"


def test_a_server_ignoring_json_schema_is_found_out() -> None:
    with (
        run_simulator("--model", "m", "--ignore-json-schema") as url,
        httpx.Client(base_url=url) as client,
    ):
        caps = probe(client, "ignoring", "m", SCHEMAS)
    assert caps.finding("guided_decoding").support == "no"
    assert caps.finding("reasoning").support == "no"
    assert caps.finding("function_call").support == "yes"


def test_500_for_an_invalid_value_is_broken_not_lenient() -> None:
    with (
        run_simulator("--model", "m", "--invalid-params-500") as url,
        httpx.Client(base_url=url) as client,
    ):
        caps = probe(client, "errors-500", "m", SCHEMAS)
    finding = caps.finding("strict_validation")
    assert finding.support == "unknown"
    assert finding.evidence.startswith("a chat request with temperature -0.5 failed: ")
    assert caps.finding("model_check").support == "yes"


def test_an_unreachable_server_is_unknown_not_unsupported() -> None:
    with httpx.Client(base_url="http://127.0.0.1:9", timeout=1.0) as client:
        caps = probe(client, "down", "m", SCHEMAS)
    assert {f.support for f in caps.findings.values()} == {"unknown"}
