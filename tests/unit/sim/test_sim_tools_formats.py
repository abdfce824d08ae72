"""Tool calls, structured outputs, reasoning and the accuracy answer rule."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from openai import OpenAI

from cibench.sim.testing import run_simulator, sse_events

MODEL = "sim-model"
WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "hourly": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["city", "unit", "days"],
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMS}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}},
]  # fmt: skip
ASK = [{"role": "user", "content": "What's the weather in Paris?"}]


@pytest.fixture(scope="module")
def reasoning_url() -> Iterator[str]:
    with run_simulator("--model", MODEL, "--reasoning", "--reasoning-key", "reasoning") as url:
        yield url


def post(http: httpx.Client, **body: Any) -> dict[str, Any]:
    resp = http.post("/v1/chat/completions", json={"model": MODEL, **body})
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


@pytest.mark.parametrize(
    ("tool_choice", "name"),
    [
        ("auto", "get_weather"),
        ("required", "get_weather"),
        ({"type": "function", "function": {"name": "get_time"}}, "get_time"),
    ],
)
def test_tool_call_arguments_validate_against_schema(
    client: OpenAI, tool_choice: Any, name: str
) -> None:
    r = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        tools=TOOLS,
        tool_choice=tool_choice,  # type: ignore[arg-type]
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert not choice.message.content
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == name
    assert len(call.id) >= 9
    schema = next(t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == name)
    jsonschema.validate(json.loads(call.function.arguments), schema)


def test_tool_choice_none_answers_in_text(http: httpx.Client) -> None:
    r = post(http, messages=ASK, tools=TOOLS, tool_choice="none", max_tokens=10)
    assert r["choices"][0]["message"]["tool_calls"] == []
    assert r["choices"][0]["message"]["content"]
    assert r["choices"][0]["finish_reason"] != "tool_calls"


def test_after_a_tool_result_auto_answers_in_text(http: httpx.Client) -> None:
    messages = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call-1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call-1", "content": "18 C, sunny"},
    ]  # fmt: skip
    r = post(http, messages=messages, tools=TOOLS, max_tokens=10)
    assert r["choices"][0]["finish_reason"] != "tool_calls"
    assert r["choices"][0]["message"]["tool_calls"] == []


def test_streamed_tool_call_sends_id_and_name_first_then_argument_fragments(
    http: httpx.Client,
) -> None:
    body = {"model": MODEL, "messages": ASK, "tools": TOOLS, "tool_choice": "required",
            "stream": True}  # fmt: skip
    with http.stream("POST", "/v1/chat/completions", json=body) as resp:
        events = sse_events(resp.read().decode())
    deltas = [e["choices"][0]["delta"].get("tool_calls") for e in events[:-1]]
    calls = [d[0] for d in deltas if d]
    assert calls[0]["id"]
    assert calls[0]["function"]["name"] == "get_weather"
    assert sum(1 for c in calls if c.get("id")) == 1
    assert sum(1 for c in calls if c["function"].get("name")) == 1
    arguments = "".join(c["function"].get("arguments", "") for c in calls)
    jsonschema.validate(json.loads(arguments), WEATHER_PARAMS)
    finishes = [e["choices"][0]["finish_reason"] for e in events[:-1]]
    assert [f for f in finishes if f] == ["tool_calls"]


def test_json_object_response_format_gives_a_json_object(http: httpx.Client) -> None:
    r = post(http, messages=ASK, response_format={"type": "json_object"}, max_tokens=100)
    assert isinstance(json.loads(r["choices"][0]["message"]["content"]), dict)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"name": {"type": "string"},
         "age": {"type": "integer", "minimum": 0, "maximum": 120}}, "required": ["name", "age"]},
        {"type": "object", "properties": {"items": {"type": "array", "minItems": 2,
         "items": {"$ref": "#/$defs/item"}}}, "required": ["items"],
         "$defs": {"item": {"type": "object", "properties": {"id": {"type": "integer"},
                   "price": {"type": "number", "exclusiveMinimum": 0}}, "required": ["id"]}}},
        {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]},
         "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["answer"]},
    ],
)  # fmt: skip
def test_json_schema_response_format_output_validates(
    http: httpx.Client, schema: dict[str, Any]
) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
    for seed in range(5):
        r = post(http, messages=ASK, response_format=fmt, max_tokens=300, seed=seed)
        jsonschema.validate(json.loads(r["choices"][0]["message"]["content"]), schema)
        assert r["choices"][0]["finish_reason"] == "stop"


def test_reasoning_field_comes_before_content_and_counts_as_completion(
    reasoning_url: str,
) -> None:
    with httpx.Client(base_url=reasoning_url) as http:
        r = post(http, messages=ASK, max_tokens=200)
        message = r["choices"][0]["message"]
        assert message["reasoning"]
        assert message["content"]
        usage = r["usage"]
        details = usage["completion_tokens_details"]["reasoning_tokens"]
        assert details > 0
        assert usage["completion_tokens"] > details
        body = {"model": MODEL, "messages": ASK, "max_tokens": 200, "stream": True}
        with http.stream("POST", "/v1/chat/completions", json=body) as resp:
            events = sse_events(resp.read().decode())
    kinds = []
    for e in events[:-1]:
        delta = e["choices"][0]["delta"]
        if delta.get("reasoning"):
            kinds.append("r")
        elif delta.get("content"):
            kinds.append("c")
    assert kinds[0] == "r"
    assert "c" in kinds
    assert kinds == sorted(kinds, key=lambda k: k == "c")  # all reasoning, then all content


def test_reasoning_with_tiny_max_tokens_leaves_content_empty(reasoning_url: str) -> None:
    with httpx.Client(base_url=reasoning_url) as http:
        r = post(http, messages=ASK, max_tokens=3)
    assert r["choices"][0]["message"]["content"] is None
    assert r["choices"][0]["finish_reason"] == "length"


def test_reasoning_model_completions_are_plain_text_streamed_or_not(reasoning_url: str) -> None:
    # vLLM applies its reasoning parser to chat only: a completion's text holds every token.
    body = {
        "model": MODEL,
        "prompt": "Say hi",
        "max_tokens": 12,
        "ignore_eos": True,
        "temperature": 0,
    }
    with httpx.Client(base_url=reasoning_url) as http:
        whole = http.post("/v1/completions", json=body).json()
        streamed = http.post("/v1/completions", json={**body, "stream": True}).text
    chunks = [c for c in sse_events(streamed) if c != "[DONE]"]
    text = "".join(choice["text"] for chunk in chunks for choice in chunk["choices"])
    assert whole["choices"][0]["text"] == text
    assert whole["usage"]["completion_tokens"] == 12
    assert text


def test_default_server_has_no_reasoning_field(http: httpx.Client) -> None:
    message = post(http, messages=ASK, max_tokens=5)["choices"][0]["message"]
    assert "reasoning_content" not in message
    assert "reasoning" not in message


def expected_letter(text: str) -> str:
    return "ABCD"[hashlib.sha256(text.encode("utf-8")).digest()[0] % 4]


@pytest.mark.parametrize("question", ["Which gas? A) N2 B) O2", "第二题：哪个正确？", "Q3"])
def test_multiple_choice_prompt_ends_with_deterministic_answer_line(
    http: httpx.Client, question: str
) -> None:
    text = (
        "Answer the following multiple choice question. The last line of your response "
        "should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER "
        f"is one of ABCD. Think step by step before answering.\n\n{question}"
    )
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    r = post(http, messages=messages, max_tokens=2048, temperature=0.5)
    content = r["choices"][0]["message"]["content"]
    assert content.splitlines()[-1] == f"Answer: {expected_letter(text)}"
    assert r["choices"][0]["finish_reason"] == "stop"


def test_answer_rule_holds_for_a_reasoning_model(reasoning_url: str) -> None:
    text = "Pick one. Answer: $LETTER\nA) 1 B) 2 C) 3 D) 4"
    with httpx.Client(base_url=reasoning_url) as http:
        r = post(http, messages=[{"role": "user", "content": text}], max_tokens=2048)
    assert r["choices"][0]["message"]["content"].endswith(f"\nAnswer: {expected_letter(text)}")
