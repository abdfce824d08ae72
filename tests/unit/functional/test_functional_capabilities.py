"""The capability probe: verdicts from replies, skip decisions, and probing real simulators."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from func_support import SCHEMAS, chat_body, json_reply

from cibench.config.functional import CAPABILITIES, Capability
from cibench.config.scenario import Features
from cibench.functional.capabilities import (
    Admission,
    Capabilities,
    admit,
    lost_capabilities,
    probe,
)
from cibench.functional.capability_baseline import CapabilityBaseline
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


# ---- run, skip or fail ------------------------------------------------------------------------


def skip_reason(
    needed: tuple[Capability, ...],
    features: Features,
    caps: Capabilities,
    declared_in: str | None = FILE,
    baseline: CapabilityBaseline | None = None,
) -> str | None:
    admission = admit(needed, features, caps, declared_in, baseline)
    assert admission.action != "fail", admission
    return admission.reason if admission.action == "skip" else None


def test_supported_and_unknown_capabilities_run() -> None:
    caps = probed(chat="yes", guided_decoding="unknown")
    assert skip_reason(("chat", "guided_decoding"), Features(), caps) is None


def test_unsupported_capability_skips_with_the_evidence() -> None:
    reason = skip_reason(("chat", "guided_decoding"), Features(), probed(guided_decoding="no"))
    assert reason == (
        "capability 'guided_decoding' unsupported (probe: evidence guided_decoding); "
        "set features.guided_decoding: true in configs/scenarios/x.yaml to run these cases anyway"
    )


def test_a_url_scenario_is_told_to_pass_features_on_the_command_line() -> None:
    reason = skip_reason(("logprobs",), Features(), probed(logprobs="no"), declared_in=None)
    assert reason == (
        "capability 'logprobs' unsupported (probe: evidence logprobs); "
        "pass --features logprobs to run these cases anyway"
    )


def test_a_feature_forced_on_runs_even_when_the_probe_says_no() -> None:
    forced = Features(guided_decoding=True)
    assert skip_reason(("guided_decoding",), forced, probed(guided_decoding="no")) is None


def test_a_feature_forced_off_skips_even_when_supported() -> None:
    reason = skip_reason(("reasoning",), Features(reasoning=False), probed(reasoning="yes"))
    assert reason == "capability 'reasoning' is off: features.reasoning: false in " + FILE


def test_vllm_behaviours_can_be_forced_on_a_vllm_scenario() -> None:
    lenient = probed(strict_validation="no", vllm_metrics="no")
    forced = Features(strict_validation=True, vllm_metrics=True)
    assert skip_reason(("strict_validation", "vllm_metrics"), forced, lenient) is None
    assert skip_reason(("strict_validation",), Features(), lenient) == (
        "capability 'strict_validation' unsupported (probe: evidence strict_validation); "
        "set features.strict_validation: true in configs/scenarios/x.yaml to run these cases "
        "anyway"
    )


def test_every_capability_can_be_declared() -> None:
    assert set(CAPABILITIES) <= set(Features.model_fields)
    for capability in CAPABILITIES:
        declared = Features(**{capability: True})
        assert skip_reason((capability,), declared, probed(**{capability: "no"})) is None


def test_a_declared_vllm_variant_declares_the_route_it_is_built_on() -> None:
    missing = probed(tokenize="no", vllm_tokenize="no", metrics="no")
    declared = Features(vllm_tokenize=True)
    assert skip_reason(("tokenize", "vllm_tokenize"), declared, missing) is None
    assert skip_reason(("metrics",), declared, missing) is not None


def test_a_capability_the_baseline_had_fails_instead_of_skipping() -> None:
    baseline = CapabilityBaseline(
        "runs/daily/s/capabilities.json", {"logprobs": Finding("yes", "chat with logprobs -> 200")}
    )
    caps = probed(logprobs="no", n="no")
    admission = admit(("logprobs",), Features(), caps, FILE, baseline)
    assert admission == Admission(
        "fail",
        "capability 'logprobs' lost: supported in the capability baseline "
        "(runs/daily/s/capabilities.json: chat with logprobs -> 200), unsupported now "
        "(probe: evidence logprobs)",
    )
    # not in the baseline: still a skip; switched off by hand: still a skip
    assert admit(("n",), Features(), caps, FILE, baseline).action == "skip"
    assert admit(("logprobs",), Features(logprobs=False), caps, FILE, baseline).action == "skip"
    assert lost_capabilities(baseline, Features(), caps) == {"logprobs": admission.reason}
    assert lost_capabilities(baseline, Features(), probed(logprobs="yes")) == {"logprobs": ""}


def test_a_model_the_server_does_not_serve_fails_generation_cases_with_that_reason() -> None:
    caps = Capabilities(scenario_id="x", model_error="the server does not serve model 'm'")
    assert admit(("chat",), Features(), caps, FILE) == Admission(
        "fail", "the server does not serve model 'm'"
    )
    assert admit((), Features(), caps, FILE).action == "run"


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
        "min_tokens": "yes",
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


def test_a_404_for_an_unknown_model_is_not_a_missing_route(default_caps: Capabilities) -> None:
    with run_simulator("--model", "m") as url, httpx.Client(base_url=url) as client:
        caps = probe(client, "wrong-name", "not-m", SCHEMAS)
    assert caps.model_error is not None
    assert caps.model_error.startswith("the server does not serve model 'not-m' (POST ")
    assert "GET /v1/models lists ['m']" in caps.model_error
    assert caps.finding("chat").support == "unknown"
    assert caps.finding("completions").support == "unknown"
    assert default_caps.model_error is None
