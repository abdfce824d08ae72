"""The chat sampler: answers, reasoning, null content, bounded retries and timeouts, no leaks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from acc_support import SIM_MODEL, Reply, ScriptedServer, chat_reply

from cibench.accuracy.sampler import ChatSampler, SamplerConfig
from cibench.sim.testing import run_simulator

Start = Callable[[Callable[[str, bytes], Reply]], ScriptedServer]
PROMPT = "Pick one. The last line is 'Answer: $LETTER'.\n\nA) x\nB) y\nC) z\nD) w"


def config(base_url: str, **overrides: object) -> SamplerConfig:
    values: dict[str, object] = {
        "api_base": f"{base_url}/v1",
        "model": SIM_MODEL,
        "max_tokens": 256,
        "timeout_seconds": 5.0,
        "max_retries": 0,
        "backoff_seconds": 0.0,
    }
    values.update(overrides)
    return SamplerConfig(**values)  # type: ignore[arg-type]


def test_simulator_answer_ends_with_an_answer_line(sim_url: str) -> None:
    with ChatSampler(config(sim_url)) as sampler:
        response = sampler.complete(PROMPT)
    assert response.error is None
    assert response.content is not None
    assert response.content.splitlines()[-1] in {"Answer: A", "Answer: B", "Answer: C", "Answer: D"}
    assert (response.status, response.attempts, response.finish_reason) == (200, 1, "stop")


def test_request_body_is_the_simple_evals_one(scripted_server: Start) -> None:
    server = scripted_server(lambda _p, _b: chat_reply("Answer: A"))
    with ChatSampler(config(server.base_url, temperature=0.5, max_tokens=99)) as sampler:
        sampler.complete("hello")
    [(path, _headers, body)] = server.requests
    assert path == "/v1/chat/completions"
    assert json.loads(body) == {
        "model": SIM_MODEL,
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0.5,
        "max_tokens": 99,
    }


def test_reasoning_field_is_kept_under_either_name() -> None:
    for key in ("reasoning_content", "reasoning"):
        args = ("--served-model-name", SIM_MODEL, "--reasoning", "--reasoning-key", key)
        with run_simulator(*args) as url, ChatSampler(config(url)) as sampler:
            response = sampler.complete(PROMPT)
        assert response.reasoning, key
        assert response.content is not None


def test_null_content_is_returned_once_without_retrying(scripted_server: Start) -> None:
    server = scripted_server(
        lambda _p, _b: chat_reply(None, "length", reasoning_content="thinking...")
    )
    with ChatSampler(config(server.base_url, max_retries=3)) as sampler:
        response = sampler.complete(PROMPT)
    assert (response.content, response.reasoning, response.finish_reason) == (
        None,
        "thinking...",
        "length",
    )
    assert (response.error, response.attempts, len(server.requests)) == (None, 1, 1)


def test_server_errors_are_retried_a_bounded_number_of_times() -> None:
    with (
        run_simulator("--served-model-name", SIM_MODEL, "--error-ratio", "1.0") as url,
        ChatSampler(config(url, max_retries=2, backoff_seconds=0.01)) as sampler,
    ):
        response = sampler.complete(PROMPT)
    assert response.content is None
    assert response.status == 500
    assert response.attempts == 3
    assert response.error is not None
    assert response.error.startswith("HTTP 500: ")


def test_client_errors_are_not_retried(scripted_server: Start) -> None:
    server = scripted_server(lambda _p, _b: Reply(400, {"error": {"message": "bad max_tokens"}}))
    with ChatSampler(config(server.base_url, max_retries=3)) as sampler:
        response = sampler.complete(PROMPT)
    assert (response.status, response.attempts, len(server.requests)) == (400, 1, 1)
    assert response.error is not None
    assert "bad max_tokens" in response.error


def test_a_server_that_never_answers_times_out_per_attempt(scripted_server: Start) -> None:
    server = scripted_server(lambda _p, _b: Reply(hang=True))
    started = time.monotonic()
    with ChatSampler(config(server.base_url, timeout_seconds=0.3, max_retries=1)) as sampler:
        response = sampler.complete(PROMPT)
    elapsed = time.monotonic() - started
    assert response.error == "timed out after 0.3 s (ReadTimeout)"
    assert (response.content, response.attempts, len(server.requests)) == (None, 2, 2)
    assert elapsed < 5  # two 0.3 s attempts; loose because the machine is shared


def test_refused_connection_is_an_error_not_an_exception() -> None:
    with ChatSampler(config("http://127.0.0.1:9", max_retries=1)) as sampler:
        response = sampler.complete(PROMPT)
    assert response.error is not None
    assert response.error.startswith("ConnectError")
    assert response.attempts == 2


def test_malformed_body_is_an_error(scripted_server: Start) -> None:
    server = scripted_server(lambda _p, _b: Reply(raw=b'{"choices": []}'))
    with ChatSampler(config(server.base_url)) as sampler:
        response = sampler.complete(PROMPT)
    assert response.error is not None
    assert response.error.startswith("malformed chat completion (IndexError)")


def test_api_key_is_sent_but_never_echoed_into_errors(scripted_server: Start) -> None:
    def echo_headers(_path: str, _body: bytes) -> Reply:
        auth = server.requests[-1][1].get("Authorization")
        return Reply(401, {"error": {"message": f"rejected {auth}"}})

    server = scripted_server(echo_headers)
    key = "sk-test-0123456789"
    with ChatSampler(config(server.base_url, api_key=key)) as sampler:
        response = sampler.complete(PROMPT)
    assert server.requests[0][1]["Authorization"] == f"Bearer {key}"
    assert response.error is not None
    assert "rejected Bearer ***" in response.error
    assert key not in response.error
    assert key not in repr(sampler.config)


def test_complete_all_keeps_prompt_order_across_threads(scripted_server: Start) -> None:
    def echo(_path: str, body: bytes) -> Reply:
        return chat_reply("echo " + json.loads(body)["messages"][0]["content"])

    server = scripted_server(echo)
    prompts = [f"p{i}" for i in range(20)]
    with ChatSampler(config(server.base_url, num_threads=6)) as sampler:
        responses = sampler.complete_all(prompts)
    assert [r.content for r in responses] == [f"echo {p}" for p in prompts]
