"""The simulator answers the basic endpoints in vLLM's shapes."""

from __future__ import annotations

import httpx
from openai import OpenAI

MODEL = "sim-model"


def test_health_is_200(http: httpx.Client) -> None:
    assert http.get("/health").status_code == 200


def test_version_reports_configured_string(http: httpx.Client) -> None:
    assert http.get("/version").json() == {"version": "0.11.0"}


def test_models_lists_served_model_in_vllm_shape(http: httpx.Client) -> None:
    body = http.get("/v1/models").json()
    assert body["object"] == "list"
    (entry,) = body["data"]
    assert entry["id"] == MODEL
    assert entry["owned_by"] == "vllm"
    assert entry["root"] == MODEL
    assert entry["max_model_len"] == 4096


def test_chat_non_stream_respects_max_tokens_with_ignore_eos(client: OpenAI) -> None:
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=12,
        extra_body={"ignore_eos": True},
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert r.usage.completion_tokens == 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + 12
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content


def test_completions_stream_ends_with_usage_then_done(http: httpx.Client) -> None:
    body = {
        "model": MODEL,
        "prompt": "hi",
        "max_tokens": 4,
        "stream": True,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }
    with http.stream("POST", "/v1/completions", json=body) as resp:
        raw = resp.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"choices":[]' in events[-2]
    assert '"completion_tokens":4' in events[-2]
    assert len(events) == 4 + 2
