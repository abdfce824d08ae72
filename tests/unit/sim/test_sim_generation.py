"""Sampling semantics and streaming framing of chat and completions, as vLLM behaves."""

from __future__ import annotations

from typing import Any

import httpx
from openai import OpenAI

from cibench.sim.testing import sse_events

MODEL = "sim-model"
USER = [{"role": "user", "content": "Tell me about KV caches."}]


def chat(http: httpx.Client, **body: Any) -> dict[str, Any]:
    resp = http.post("/v1/chat/completions", json={"model": MODEL, "messages": USER, **body})
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def stream(http: httpx.Client, path: str, body: dict[str, Any]) -> list[Any]:
    with http.stream("POST", path, json={"model": MODEL, "stream": True, **body}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        return sse_events(resp.read().decode())


def test_ignore_eos_gives_exactly_max_tokens(client: OpenAI) -> None:
    for max_tokens in (1, 7, 300):
        r = client.completions.create(
            model=MODEL, prompt="x", max_tokens=max_tokens, extra_body={"ignore_eos": True}
        )
        assert r.usage is not None
        assert r.usage.completion_tokens == max_tokens
        assert r.choices[0].finish_reason == "length"


def test_without_ignore_eos_generation_stops_early_with_stop(http: httpx.Client) -> None:
    r = chat(http, max_tokens=1000)
    assert r["choices"][0]["finish_reason"] == "stop"
    assert 16 <= r["usage"]["completion_tokens"] < 128


def test_min_tokens_delays_eos(http: httpx.Client) -> None:
    r = chat(http, max_tokens=1000, min_tokens=300)
    assert r["usage"]["completion_tokens"] >= 300


def test_stop_string_ends_content_before_it(http: httpx.Client) -> None:
    base = chat(http, max_tokens=200, temperature=0, ignore_eos=True)
    text = base["choices"][0]["message"]["content"]
    stop = "." if "." in text else "。"
    assert stop in text
    r = chat(http, max_tokens=200, temperature=0, ignore_eos=True, stop=[stop])
    assert r["choices"][0]["finish_reason"] == "stop"
    content = r["choices"][0]["message"]["content"]
    assert stop not in content
    assert text.startswith(content)


def test_n_returns_n_indexed_choices(http: httpx.Client) -> None:
    r = chat(http, n=3, max_tokens=20, temperature=1.0, seed=3)
    assert [c["index"] for c in r["choices"]] == [0, 1, 2]
    assert len({c["message"]["content"] for c in r["choices"]}) == 3
    # each choice stops at its own EOS (>= 16 tokens) or at max_tokens
    assert 3 * 16 <= r["usage"]["completion_tokens"] <= 3 * 20


def test_same_seed_same_text_and_different_seed_differs(http: httpx.Client) -> None:
    a = chat(http, seed=42, temperature=0.8, max_tokens=30)
    b = chat(http, seed=42, temperature=0.8, max_tokens=30)
    c = chat(http, seed=43, temperature=0.8, max_tokens=30)
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    assert a["choices"][0]["message"]["content"] != c["choices"][0]["message"]["content"]


def test_temperature_zero_is_deterministic_whatever_the_seed(http: httpx.Client) -> None:
    texts = {chat(http, temperature=0, seed=s, max_tokens=30)["choices"][0]["message"]["content"]
             for s in (1, 2, None)}  # fmt: skip
    assert len(texts) == 1


def test_unseeded_sampling_varies(http: httpx.Client) -> None:
    texts = {chat(http, max_tokens=30)["choices"][0]["message"]["content"] for _ in range(3)}
    assert len(texts) > 1


def test_chat_logprobs_shape(client: OpenAI) -> None:
    r = client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=5, logprobs=True, top_logprobs=3,
        extra_body={"ignore_eos": True},
    )  # fmt: skip
    lp = r.choices[0].logprobs
    assert lp is not None
    assert lp.content is not None
    assert len(lp.content) == 5
    assert "".join(t.token for t in lp.content) == r.choices[0].message.content
    for t in lp.content:
        assert t.logprob <= 0
        assert t.bytes == list(t.token.encode())
        assert len(t.top_logprobs) == 3
        assert t.top_logprobs[0].token == t.token
        assert [x.logprob for x in t.top_logprobs] == sorted(
            (x.logprob for x in t.top_logprobs), reverse=True
        )


def test_chat_without_logprobs_has_none(client: OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=3)
    assert r.choices[0].logprobs is None


def test_completion_logprobs_and_echo(client: OpenAI) -> None:
    r = client.completions.create(
        model=MODEL, prompt="hello world", max_tokens=4, logprobs=2, echo=True,
        extra_body={"ignore_eos": True},
    )  # fmt: skip
    choice = r.choices[0]
    assert choice.text.startswith("hello world")
    lp = choice.logprobs
    assert lp is not None
    assert lp.tokens is not None
    assert lp.token_logprobs is not None
    assert lp.top_logprobs is not None
    assert lp.text_offset is not None
    assert lp.tokens[:4] == ["hell", "o", " wor", "ld"]
    assert lp.token_logprobs[0] is None
    assert lp.top_logprobs[0] is None
    assert "".join(lp.tokens) == choice.text
    assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(len(lp.tokens))]
    assert all(len(top) == 2 for top in lp.top_logprobs[-4:] if top is not None)


def test_chat_stream_framing_matches_vllm(http: httpx.Client) -> None:
    events = stream(http, "/v1/chat/completions",
                    {"messages": USER, "max_tokens": 6, "ignore_eos": True})  # fmt: skip
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes.count("length") == 1
    assert finishes[-1] == "length"
    assert all("usage" not in c or c["usage"] is None for c in chunks)
    assert sum(1 for c in chunks if c["choices"][0]["delta"].get("content")) == 6


def test_stream_text_equals_non_stream_text_at_temperature_zero(http: httpx.Client) -> None:
    body = {"messages": USER, "max_tokens": 40, "temperature": 0}
    whole = chat(http, **body)["choices"][0]["message"]["content"]
    events = stream(http, "/v1/chat/completions", body)
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert streamed == whole


def test_include_usage_adds_one_final_chunk_with_empty_choices(http: httpx.Client) -> None:
    events = stream(http, "/v1/chat/completions", {
        "messages": USER, "max_tokens": 5, "ignore_eos": True,
        "stream_options": {"include_usage": True},
    })  # fmt: skip
    *chunks, usage_chunk, done = events
    assert done == "[DONE]"
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + 5
    assert all(c.get("usage") is None for c in chunks)


def test_continuous_usage_stats_put_growing_usage_on_every_chunk(http: httpx.Client) -> None:
    events = stream(http, "/v1/completions", {
        "prompt": "abc", "max_tokens": 10, "min_tokens": 10,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    })  # fmt: skip
    chunks = events[:-1]
    counts = [c["usage"]["completion_tokens"] for c in chunks]
    assert counts == [*range(1, 11), 10]
    assert chunks[-1]["choices"] == []


def test_completions_stream_n_gives_each_index_its_tokens(http: httpx.Client) -> None:
    events = stream(http, "/v1/completions",
                    {"prompt": "abc", "max_tokens": 4, "n": 3, "ignore_eos": True})  # fmt: skip
    chunks = events[:-1]
    for index in range(3):
        mine = [c for c in chunks if c["choices"][0]["index"] == index]
        assert len(mine) == 4
        assert [c["choices"][0]["finish_reason"] for c in mine][-1] == "length"


def test_batch_prompts_and_token_id_prompts(http: httpx.Client) -> None:
    r = http.post("/v1/completions", json={
        "model": MODEL, "prompt": ["one", "two"], "max_tokens": 3, "temperature": 0,
    }).json()  # fmt: skip
    assert len(r["choices"]) == 2
    r = http.post("/v1/completions", json={"model": MODEL, "prompt": [0, 0, 0, 0, 0],
                                           "max_tokens": 3}).json()  # fmt: skip
    assert r["usage"]["prompt_tokens"] == 5


def test_multi_turn_conversation_counts_every_turn(http: httpx.Client) -> None:
    one = chat(http, max_tokens=5)
    turns = [*USER, {"role": "assistant", "content": "Sure."},
             {"role": "user", "content": "And prefix caching?"}]  # fmt: skip
    two = chat(http, messages=turns, max_tokens=5)
    assert two["usage"]["prompt_tokens"] > one["usage"]["prompt_tokens"]
    assert two["choices"][0]["message"]["role"] == "assistant"


def test_missing_model_uses_the_served_name(http: httpx.Client) -> None:
    resp = http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 2})
    assert resp.json()["model"] == MODEL


def test_list_of_parts_content_equals_string_content(http: httpx.Client) -> None:
    parts = [{"type": "text", "text": "plain "}, {"type": "text", "text": "words"}]
    a = chat(http, messages=[{"role": "user", "content": parts}], max_tokens=2)
    b = chat(http, messages=[{"role": "user", "content": "plain words"}], max_tokens=2)
    assert a["usage"]["prompt_tokens"] == b["usage"]["prompt_tokens"]
