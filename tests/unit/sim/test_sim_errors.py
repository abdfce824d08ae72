"""Invalid requests get OpenAI error bodies with vLLM's status codes; the server stays healthy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from cibench.sim.testing import run_simulator

MODEL = "sim-model"
USER = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]

CHAT_400 = [
    ("temperature-negative", {"temperature": -0.1}),
    ("temperature-above-2", {"temperature": 2.5}),
    ("top-p-zero", {"top_p": 0}),
    ("top-p-above-1", {"top_p": 1.5}),
    ("max-tokens-zero", {"max_tokens": 0}),
    ("max-tokens-string", {"max_tokens": "ten"}),
    ("n-zero", {"n": 0}),
    ("presence-penalty", {"presence_penalty": 2.5}),
    ("frequency-penalty", {"frequency_penalty": -3}),
    ("top-logprobs-21", {"logprobs": True, "top_logprobs": 21}),
    ("top-logprobs-without-logprobs", {"top_logprobs": 3}),
    ("min-tokens-above-max", {"max_tokens": 5, "min_tokens": 6}),
    ("seed-out-of-int64", {"seed": 2**64}),
    ("empty-stop", {"stop": [""]}),
    ("top-k", {"top_k": -5}),
    ("stream-options-without-stream", {"stream_options": {"include_usage": True}}),
    ("unknown-role", {"messages": [{"role": "wizard", "content": "hi"}]}),
    ("empty-messages", {"messages": []}),
    ("bad-tool-choice-string", {"tools": TOOLS, "tool_choice": "sometimes"}),
    ("tool-choice-without-tools", {"tool_choice": "required"}),
    ("named-tool-not-in-tools", {"tools": TOOLS,
     "tool_choice": {"type": "function", "function": {"name": "g"}}}),
    ("empty-tools", {"tools": []}),
    ("json-schema-without-schema", {"response_format": {"type": "json_schema"}}),
    ("unknown-response-format", {"response_format": {"type": "xml"}}),
]  # fmt: skip

COMPLETION_400 = [
    ("logprobs-21", {"logprobs": 21}),
    ("logprobs-negative", {"logprobs": -1}),
    ("empty-prompt", {"prompt": ""}),
    ("prompt-missing", {"prompt": None}),
]


def assert_error(resp: httpx.Response, status: int, err_type: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert error["type"] == err_type
    assert error["code"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@pytest.mark.parametrize(("case", "fields"), CHAT_400, ids=[c for c, _ in CHAT_400])
def test_invalid_chat_parameters_are_400(
    http: httpx.Client, case: str, fields: dict[str, Any]
) -> None:
    body = {"model": MODEL, "messages": USER, **fields}
    assert_error(http.post("/v1/chat/completions", json=body), 400, "BadRequestError")
    assert http.get("/health").status_code == 200


@pytest.mark.parametrize(("case", "fields"), COMPLETION_400, ids=[c for c, _ in COMPLETION_400])
def test_invalid_completion_parameters_are_400(
    http: httpx.Client, case: str, fields: dict[str, Any]
) -> None:
    body = {"model": MODEL, "prompt": "hi", **fields}
    assert_error(http.post("/v1/completions", json=body), 400, "BadRequestError")


def test_error_names_the_parameter(http: httpx.Client) -> None:
    body = {"model": MODEL, "messages": USER, "temperature": 9}
    error = assert_error(http.post("/v1/chat/completions", json=body), 400, "BadRequestError")
    assert error["param"] == "temperature"
    assert "temperature" in error["message"]


def test_malformed_json_is_400(http: httpx.Client) -> None:
    resp = http.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(resp, 400, "BadRequestError")


def test_form_content_type_is_rejected(http: httpx.Client) -> None:
    resp = http.post("/v1/chat/completions", data={"model": MODEL})
    assert 400 <= resp.status_code < 500


def test_unknown_model_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="nope", messages=USER)  # type: ignore[arg-type]


def test_prompt_longer_than_context_is_400_with_context_message(http: httpx.Client) -> None:
    long_prompt = "word " * 5000
    resp = http.post("/v1/completions", json={"model": MODEL, "prompt": long_prompt})
    error = assert_error(resp, 400, "BadRequestError")
    assert "maximum context length is 4096" in error["message"]


def test_prompt_plus_max_tokens_over_context_is_400(http: httpx.Client) -> None:
    count = http.post("/tokenize", json={"model": MODEL, "prompt": "a b c"}).json()["count"]
    ok = {"model": MODEL, "prompt": "a b c", "max_tokens": 4096 - count}
    assert http.post("/v1/completions", json=ok).status_code == 200
    over = {**ok, "max_tokens": 4096 - count + 1}
    assert_error(http.post("/v1/completions", json=over), 400, "BadRequestError")


def test_sdk_raises_bad_request_and_server_keeps_serving(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=USER, temperature=5)
    r = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=2)
    assert r.choices[0].message.content


@pytest.fixture(scope="module")
def flat_url() -> Iterator[str]:
    with run_simulator("--model", MODEL, "--error-envelope", "flat") as url:
        yield url


def test_flat_envelope_is_the_pre_0_10_1_shape(flat_url: str) -> None:
    resp = httpx.post(f"{flat_url}/v1/chat/completions",
                      json={"model": MODEL, "messages": USER, "n": 0})  # fmt: skip
    assert resp.status_code == 400
    body = resp.json()
    assert body["object"] == "error"
    assert body["type"] == "BadRequestError"
    assert body["code"] == 400
    assert "param" in body
    assert "error" not in body
