"""Workload: seeded mixed Chinese/English prompts sized in tokens by the server."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import httpx
import pytest

from cibench.config.perf import PerfProfile
from cibench.perf.tokencount import open_counter
from cibench.perf.workload import (
    build_prompts,
    chat_body,
    draw_lengths,
    random_units,
    request_body,
    size_prompt,
)
from cibench.sim.testing import run_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with run_simulator("--prefill-base-ms", "1", "--itl-base-ms", "1") as base_url:
        yield base_url


def test_units_are_seeded_and_mix_chinese_and_english() -> None:
    units = random_units(random.Random("a"), 200)
    assert units == random_units(random.Random("a"), 200)
    assert units != random_units(random.Random("b"), 200)
    text = "".join(units)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert any(ch.isascii() and ch.isalpha() for ch in text)


def test_sizing_converges_on_a_counting_function() -> None:
    def count(text: str) -> int:  # a stand-in tokenizer: one token per character
        return len(text)

    prompt = size_prompt("seed", target=300, tolerance=2, count=count)
    assert prompt.tokens is not None
    assert abs(prompt.tokens - 300) <= 2
    assert prompt.tokens == len(prompt.text)


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_prompts_sized_with_the_servers_tokenize(sim: str, api: str) -> None:
    with httpx.Client() as client:
        counter = open_counter(client, sim, "sim-model", api, "auto")
        assert counter.method == "tokenize"
        prompts = build_prompts([f"s{i}" for i in range(5)], [200] * 5, 2, counter)
        for prompt in prompts:
            assert prompt.tokens is not None
            assert abs(prompt.tokens - 200) <= 2
            body = {"model": "sim-model", "max_tokens": 1}
            if api == "chat":
                body["messages"] = [{"role": "user", "content": prompt.text}]
                path = "/v1/chat/completions"
            else:
                body["prompt"] = prompt.text
                path = "/v1/completions"
            usage = client.post(f"{sim}{path}", json=body).json()["usage"]
            assert usage["prompt_tokens"] == prompt.tokens  # the count the server will report


def test_usage_probes_calibrate_on_prompts_that_are_never_measured(sim: str) -> None:
    asked: list[str] = []
    with httpx.Client() as client:
        counter = open_counter(client, sim, "sim-model", "chat", "usage")

        def count(text: str) -> int:
            asked.append(text)
            return counter(text)

        prompts = build_prompts([f"p{i}" for i in range(6)], [120] * 6, 2, count, exact=2)
    assert counter.method == "usage"
    assert [p.tokens for p in prompts] == [None] * 6  # calibrated, not probed
    probed_heads = {text[:20] for text in asked}
    assert not probed_heads & {p.text[:20] for p in prompts}  # no prompt's start was sent
    assert len(probed_heads) == 2  # the two calibration prompts
    with httpx.Client() as client:
        for prompt in prompts:
            body = {"model": "sim-model", "max_tokens": 1, **chat_body(prompt.text)}
            usage = client.post(f"{sim}/v1/chat/completions", json=body).json()["usage"]
            assert abs(usage["prompt_tokens"] - 120) <= 12  # the pooled ratio's error


def test_request_body_asks_for_exact_output_length() -> None:
    profile = PerfProfile.model_validate(
        {"input_length": [8], "output_length": [64], "temperature": 0.6, "top_k": 8}
    )
    body = json.loads(request_body(profile, profile.load_points()[0], "m", "你好 world"))
    assert body["messages"] == [{"role": "user", "content": "你好 world"}]
    assert (body["max_tokens"], body["min_tokens"], body["ignore_eos"]) == (64, 64, True)
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_k"], body["top_p"]) == (0.6, 8, 1.0)


def test_lengths_are_drawn_per_request_within_their_distribution() -> None:
    base = {"input_length": [100], "output_length": [40], "seed": 3}
    fixed = PerfProfile.model_validate(base)
    point = fixed.load_points()[0]
    assert draw_lengths(fixed, point, "0", 3) == [(100, 40)] * 3
    uniform = PerfProfile.model_validate(
        {**base, "length_distribution": "uniform", "length_spread": 0.5}
    )
    drawn = draw_lengths(uniform, point, "0", 200)
    assert drawn == draw_lengths(uniform, point, "0", 200)  # seeded
    assert drawn != draw_lengths(uniform, point, "1", 200)  # each epoch its own
    assert all(50 <= i <= 150 and 20 <= o <= 60 for i, o in drawn)
    assert len({i for i, _ in drawn}) > 20
    normal = uniform.model_copy(update={"length_distribution": "normal"})
    assert all(1 <= i <= 200 and 1 <= o <= 80 for i, o in draw_lengths(normal, point, "0", 200))
    with pytest.raises(ValueError, match="needs 'length_spread' > 0"):
        PerfProfile.model_validate({**base, "length_distribution": "normal"})


def test_concurrent_sizing_hits_each_target_within_one_token(sim: str) -> None:
    targets = [17, 64, 99, 128, 255, 300, 513, 1000]
    with httpx.Client() as client:
        counter = open_counter(client, sim, "sim-model", "chat", "tokenize")
        prompts = build_prompts([f"t{i}" for i in range(8)], targets, 1, counter, workers=4)
        errors = [(p.tokens or 0) - t for p, t in zip(prompts, targets, strict=True)]
        assert all(abs(error) <= 1 for error in errors), errors
        calls = counter.calls
        assert counter(prompts[0].text) == prompts[0].tokens
        assert counter.calls == calls  # answered from the cache
