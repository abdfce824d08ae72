"""Verdicts on vLLM-specific behaviours, from hand-written vLLM and llama.cpp replies.

The llama.cpp bodies are trimmed copies of what llama-server (b0, via xllamacpp) answered to
the same probe requests; the vLLM bodies follow vLLM's OpenAI server.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from func_support import (
    COMPLETIONS,
    chat_body,
    chat_chunks,
    chunk,
    completion_body,
    json_reply,
    sse,
    stream_reply,
)

from cibench.functional.observation import Reply
from cibench.functional.verdicts import Finding
from cibench.functional.vllm_verdicts import (
    judge_completions_logprobs,
    judge_completions_usage,
    judge_continuous_usage,
    judge_echo,
    judge_model_check,
    judge_strict_validation,
    judge_top_logprobs_zero,
    judge_version,
    judge_vllm_metrics,
    judge_vllm_tokenize,
)

LLAMACPP_ERROR = {"error": {"code": 400, "message": "bad", "type": "invalid_request_error"}}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
YES = Finding("yes", "a chat request with logprobs -> logprobs object")


def get(status: int | None, body: bytes = b"", content_type: str = "text/plain") -> Reply:
    return Reply("GET", "/x", status, content_type, body, None if status else "ConnectError")


def completion_with(**choice: object) -> Reply:
    body = completion_body()
    body["choices"][0].update(choice)
    return json_reply(body, path=COMPLETIONS)


# ---- a broken server is never "unsupported" ------------------------------------------------

JUDGES: dict[str, Callable[[Reply], Finding]] = {
    "version": lambda r: judge_version(r)[0],
    "strict_validation": judge_strict_validation,
    "model_check": judge_model_check,
    "echo": lambda r: judge_echo(r, "Hi"),
    "completions_logprobs": judge_completions_logprobs,
    "top_logprobs_zero": lambda r: judge_top_logprobs_zero(r, YES),
    "continuous_usage": judge_continuous_usage,
    "vllm_tokenize": judge_vllm_tokenize,
    "vllm_metrics": judge_vllm_metrics,
}


@pytest.mark.parametrize("name", sorted(JUDGES))
@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"error": {"message": "boom", "type": "InternalServerError"}}, 500),
        json_reply("upstream down", 503),
        Reply("POST", "/x", None, transport_error="ReadTimeout: timed out"),
    ],
    ids=["500", "503", "timeout"],
)
def test_a_broken_server_is_unknown_never_unsupported(name: str, reply: Reply) -> None:
    assert JUDGES[name](reply).support == "unknown"


# ---- lenient servers -----------------------------------------------------------------------


def test_out_of_range_values_refused_or_accepted() -> None:
    assert judge_strict_validation(json_reply(LLAMACPP_ERROR, 400)) == Finding(
        "yes", "a chat request with temperature -0.5 -> 400 (out-of-range values are refused)"
    )
    assert judge_strict_validation(json_reply({"detail": "x"}, 422)).support == "yes"
    assert judge_strict_validation(json_reply(chat_body("Hello!"))) == Finding(
        "no",
        "a chat request with temperature -0.5 -> 200 (out-of-range values accepted: "
        "lenient validation)",
    )


def test_an_unknown_model_refused_or_served() -> None:
    assert judge_model_check(json_reply({"error": {"message": "no"}}, 404)).support == "yes"
    assert judge_model_check(json_reply(chat_body("The"))) == Finding(
        "no",
        "a chat request for model 'cibench-probe-no-such-model' -> 200 "
        "(the model field is not checked)",
    )


def test_echo_honoured_ignored_or_refused() -> None:
    echoed = completion_with(text="The weather today is sunny")
    assert judge_echo(echoed, "The weather today is").support == "yes"
    ignored = completion_with(text=" so that")
    assert judge_echo(ignored, "The weather today is") == Finding(
        "no",
        "a completion request with echo -> 200 with text ' so that', not starting with "
        "'The weather today is' (echo ignored)",
    )
    assert judge_echo(json_reply(LLAMACPP_ERROR, 400, COMPLETIONS), "x").support == "no"


# ---- the same API in another shape ---------------------------------------------------------


def test_version_present_missing_or_shapeless() -> None:
    assert judge_version(get(200, b'{"version": "0.11.0"}')) == (
        Finding("yes", "GET /version -> '0.11.0'"),
        "0.11.0",
    )
    missing = get(404, b'{"error":{"message":"File Not Found","type":"not_found_error"}}')
    assert judge_version(missing)[0].support == "no"
    assert judge_version(get(200, b'{"build": 1}'))[0].support == "unknown"


def test_completions_logprobs_in_openai_or_chat_format() -> None:
    vllm = {
        "tokens": [" All", " on"],
        "token_logprobs": [-2.3, -0.6],
        "top_logprobs": [{" All": -2.3, " by": -2.8}, {" on": -0.6, " by": -1.1}],
        "text_offset": [0, 4],
    }
    assert judge_completions_logprobs(completion_with(logprobs=vllm)).support == "yes"
    entry = {"id": 29, "token": "-", "bytes": [45], "logprob": -0.78, "top_logprobs": []}
    llamacpp = completion_with(logprobs={"content": [entry]})
    assert judge_completions_logprobs(llamacpp) == Finding(
        "no",
        "a completion request with logprobs 2 -> 200 with logprobs keys ['content'], not "
        "OpenAI's completions format (tokens, token_logprobs, top_logprobs, text_offset)",
    )
    assert judge_completions_logprobs(completion_with(logprobs=None)).support == "unknown"


def test_top_logprobs_zero_needs_the_contrast_with_top_logprobs_two() -> None:
    entry = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}
    with_logprobs = chat_body("Hi")
    with_logprobs["choices"][0]["logprobs"] = {"content": [entry]}
    assert judge_top_logprobs_zero(json_reply(with_logprobs), YES).support == "yes"
    null = json_reply(chat_body("Hi"))  # llama.cpp: logprobs null when top_logprobs is 0
    assert judge_top_logprobs_zero(null, YES) == Finding(
        "no",
        "a chat request with logprobs true and top_logprobs 0 -> 200 without logprobs, "
        "although top_logprobs 2 gave them (logprobs only come with alternatives)",
    )
    unknown = Finding("unknown", "a chat request with logprobs -> 200 without logprobs")
    assert judge_top_logprobs_zero(null, unknown).support == "unknown"
    assert judge_top_logprobs_zero(json_reply(LLAMACPP_ERROR, 400), YES).support == "no"


def test_continuous_usage_in_every_text_chunk_or_only_the_last() -> None:
    final = chunk(choices=[], usage=USAGE)
    every = [chat_chunks("a", "b")[0], *(c | {"usage": USAGE} for c in chat_chunks("a", "b")[1:])]
    assert judge_continuous_usage(stream_reply(sse(*every, final))).support == "yes"
    only_last = stream_reply(sse(*chat_chunks("a", "b"), final))
    assert judge_continuous_usage(only_last) == Finding(
        "no",
        "a chat stream with include_usage and continuous_usage_stats -> usage only in the "
        "final chunk (continuous_usage_stats ignored)",
    )
    some = [*chat_chunks("a")[:1], chunk({"content": "a"}, usage=USAGE), chunk({"content": "b"})]
    assert judge_continuous_usage(stream_reply(sse(*some, final))).support == "unknown"


def test_tokenize_in_vllm_or_llamacpp_shape() -> None:
    vllm = b'{"count": 2, "max_model_len": 4096, "tokens": [28120, 905], "token_strs": null}'
    assert judge_vllm_tokenize(get(200, vllm, "application/json")) == Finding(
        "yes", "POST /tokenize with a prompt -> 2 tokens"
    )
    llamacpp = judge_vllm_tokenize(get(200, b'{"tokens":[]}', "application/json"))
    assert llamacpp == Finding(
        "no",
        "POST /tokenize with a prompt -> 200 '{\"tokens\":[]}': not vLLM's /tokenize "
        "(non-empty 'tokens' and a 'count' for the prompt)",
    )
    assert judge_vllm_tokenize(get(404)).support == "no"
    assert judge_vllm_tokenize(get(200, b"<html>")).support == "unknown"


VLLM_METRICS = b"""# HELP vllm:num_requests_running Number of requests running.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 0.0
"""
LLAMACPP_METRICS = b"""# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 45
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 0
"""


def test_metrics_with_or_without_vllm_names() -> None:
    assert judge_vllm_metrics(get(200, VLLM_METRICS)) == Finding(
        "yes", "GET /metrics -> 1 vllm:* metric families"
    )
    assert judge_vllm_metrics(get(200, LLAMACPP_METRICS)) == Finding(
        "no",
        "GET /metrics -> Prometheus text without vLLM's vllm:* metrics (it has "
        "llamacpp:prompt_tokens, llamacpp:requests_processing)",
    )
    assert judge_vllm_metrics(get(404)).support == "no"
    assert judge_vllm_metrics(get(200, b"this is not prometheus")).support == "unknown"
    assert judge_vllm_metrics(get(200, b"")).support == "unknown"


def piece(text: str, finish: str | None, **top: object) -> dict[str, object]:
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
    return {"id": "cmpl-1", "object": "text_completion", "created": 1, "choices": [choice], **top}


def test_completions_usage_in_its_own_chunk_or_on_the_finish_chunk() -> None:
    separate = sse(piece("a", None), piece("b", "length"), piece("", None, choices=[], usage=USAGE))
    assert judge_completions_usage(stream_reply(separate, COMPLETIONS))[0] == "separate"
    on_finish = sse(piece("a", None), piece("", "length", usage=USAGE))
    assert judge_completions_usage(stream_reply(on_finish, COMPLETIONS)) == (
        "finish",
        "a completion stream with include_usage -> usage on the finish chunk, "
        "no 'choices': [] chunk",
    )
    without = sse(piece("a", None), piece("", "length"))
    assert judge_completions_usage(stream_reply(without, COMPLETIONS))[0] is None
    assert judge_completions_usage(json_reply({"error": {}}, 500, COMPLETIONS))[0] is None
