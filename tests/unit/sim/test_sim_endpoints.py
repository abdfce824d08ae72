"""The simulator answers the basic endpoints in vLLM's shapes."""

from __future__ import annotations

import httpx
from openai import OpenAI

from cibench.sim.testing import run_simulator

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


def test_tokenize_prompt_returns_count_tokens_and_max_model_len(http: httpx.Client) -> None:
    body = http.post("/tokenize", json={"model": MODEL, "prompt": "Hello 世界!"}).json()
    assert body["count"] == 6  # "Hell", "o", " ", "世", "界", "!"
    assert body["max_model_len"] == 4096
    assert len(body["tokens"]) == body["count"]
    assert body["token_strs"] is None


def test_tokenize_return_token_strs(http: httpx.Client) -> None:
    body = http.post("/tokenize", json={"prompt": "Hello 世界!", "return_token_strs": True}).json()
    assert "".join(body["token_strs"]) == "Hello 世界!"


def test_detokenize_inverts_tokenize(http: httpx.Client) -> None:
    text = "Mixed 中英文 text, numbers 12345 and emoji 🙂."
    tokens = http.post("/tokenize", json={"prompt": text}).json()["tokens"]
    assert http.post("/detokenize", json={"model": MODEL, "tokens": tokens}).json() == {
        "prompt": text
    }


def test_detokenize_rejects_ids_outside_the_vocabulary(http: httpx.Client) -> None:
    resp = http.post("/detokenize", json={"tokens": [-1]})
    assert resp.status_code == 400


def test_chat_usage_equals_tokenize_of_the_same_messages(
    client: OpenAI, http: httpx.Client
) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "用中文和 English 回答: what is a KV cache?"},
    ]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    for extra in ({}, {"tools": tools}):
        count = http.post("/tokenize", json={"model": MODEL, "messages": messages, **extra})
        r = client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=1,
            **extra,  # type: ignore[arg-type]
        )
        assert r.usage is not None
        assert r.usage.prompt_tokens == count.json()["count"]


def test_completion_usage_equals_tokenize_of_the_prompt(client: OpenAI, http: httpx.Client) -> None:
    prompt = "数据推理 serving at 1000 tokens/s, 批处理 batching!"
    count = http.post("/tokenize", json={"prompt": prompt}).json()["count"]
    r = client.completions.create(model=MODEL, prompt=prompt, max_tokens=1)
    assert r.usage is not None
    assert r.usage.prompt_tokens == count


def test_generated_text_retokenizes_to_completion_tokens(
    client: OpenAI, http: httpx.Client
) -> None:
    r = client.completions.create(
        model=MODEL, prompt="x", max_tokens=200, extra_body={"ignore_eos": True}
    )
    count = http.post("/tokenize", json={"prompt": r.choices[0].text}).json()["count"]
    assert count == 200


def test_metrics_expose_vllm_families_with_model_label(client: OpenAI, http: httpx.Client) -> None:
    client.completions.create(
        model=MODEL, prompt="x", max_tokens=3, extra_body={"ignore_eos": True}
    )
    text = http.get("/metrics").text
    for family in (
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:e2e_request_latency_seconds_count",
        "vllm:inter_token_latency_seconds_sum",
        "vllm:request_queue_time_seconds_count",
        "vllm:request_prefill_time_seconds_count",
        "vllm:request_decode_time_seconds_count",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:request_success_total",
        "vllm:num_preemptions_total",
    ):
        assert f'{family}{{model_name="{MODEL}"}}' in text or f"{family}{{le=" in text, family
    assert "# TYPE vllm:time_to_first_token_seconds histogram" in text


def test_served_model_names_are_listed_and_accepted() -> None:
    with run_simulator("--model", "/models/qwen", "--served-model-name", "a", "b") as url:
        models = httpx.get(f"{url}/v1/models").json()["data"]
        assert [m["id"] for m in models] == ["a", "b"]
        assert {m["root"] for m in models} == {"/models/qwen"}
        for name, status in (("a", 200), ("b", 200), ("/models/qwen", 404)):
            resp = httpx.post(f"{url}/v1/completions",
                              json={"model": name, "prompt": "x", "max_tokens": 1})  # fmt: skip
            assert resp.status_code == status
        assert resp.status_code == 404


def test_version_flag_is_reported() -> None:
    with run_simulator("--vllm-version", "0.9.2") as url:
        assert httpx.get(f"{url}/version").json() == {"version": "0.9.2"}


def test_api_key_guards_v1_routes_only_as_vllm_does() -> None:
    with run_simulator("--model", "m", "--api-key", "sk-test") as base_url:
        assert httpx.get(f"{base_url}/health").status_code == 200
        assert httpx.get(f"{base_url}/metrics").status_code == 200
        refused = httpx.get(f"{base_url}/v1/models")
        assert refused.status_code == 401
        assert refused.json() == {"error": "Unauthorized"}
        wrong = httpx.get(f"{base_url}/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        client = OpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
        assert [m.id for m in client.models.list()] == ["m"]
