"""Field-level checks: model, created, logprob values, text integrity, and checks that need a
second request (/tokenize, the answer without stop, /metrics before and after)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from func_support import (
    COMPLETIONS,
    MODEL,
    case,
    chat_body,
    context,
    json_reply,
    observe,
)

from cibench.functional.checks import check_case, metrics_moved
from cibench.functional.observation import Reply
from cibench.functional.runner import pick_stop

NOW = 1_700_000_100.0
CHAT_CASE = case(body={"messages": [{"role": "user", "content": "Hi"}]})


def arrived(body: dict[str, Any], at: float = NOW) -> Reply:
    reply = json_reply(body)
    return Reply(reply.method, reply.path, 200, reply.content_type, reply.raw, received_at=at)


def failures(body: dict[str, Any], request: dict[str, Any] | None = None) -> list[str]:
    return check_case(CHAT_CASE, observe(arrived(body), request), context())


def test_a_conforming_answer_passes_the_field_checks() -> None:
    assert failures(chat_body()) == []


def test_the_model_field_must_name_the_requested_model() -> None:
    body = chat_body()
    body["model"] = "other-model"
    assert failures(body) == ["response 'model' is 'other-model', expected 'sim-model'"]


@pytest.mark.parametrize(
    ("created", "problem"),
    [
        (1_700_000_000_000, "not a Unix time in seconds near now"),
        ("1700000000", "expected an integer Unix time in seconds"),
        (1_600_000_000, "not a Unix time in seconds near now"),
    ],
)
def test_created_must_be_whole_seconds_near_now(created: Any, problem: str) -> None:
    body = chat_body()
    body["created"] = created
    found = [f for f in failures(body) if "'created'" in f]
    assert len(found) == 1
    assert problem in found[0]


def test_logprobs_above_zero_fail() -> None:
    body = chat_body()
    entry = {"token": "Hi", "logprob": 0.5, "top_logprobs": [{"token": "Hi", "logprob": -0.1}]}
    body["choices"][0]["logprobs"] = {"content": [entry]}
    assert failures(body) == ["choice 0: logprob 0.5, expected a number <= 0"]
    entry["logprob"] = -0.5
    assert failures(body) == []


def test_a_replacement_character_fails_unless_the_request_had_one() -> None:
    body = chat_body("caf\ufffd")
    assert "U+FFFD" in failures(body)[0]
    asked = {"model": MODEL, "messages": [{"role": "user", "content": "repeat caf\ufffd"}]}
    assert failures(body, asked) == []


def test_sampled_choices_must_differ_when_asked() -> None:
    differ = case(body={"messages": [], "n": 2}, expect={"choices_differ": True})
    body = chat_body("same")
    body["choices"].append({**copy.deepcopy(body["choices"][0]), "index": 1})
    request = {"model": MODEL, "n": 2}
    found = check_case(differ, observe(arrived(body), request), context())
    assert found == ["all 2 sampled choices are identical: 'same'"]
    body["choices"][1]["message"]["content"] = "other"
    assert check_case(differ, observe(arrived(body), request), context()) == []


def test_prompt_tokens_must_equal_the_tokenize_count() -> None:
    counted = case(
        api="completions", body={"prompt": "Hi"}, expect={"prompt_tokens_match_tokenize": True}
    )
    assert counted.capabilities_needed == ("completions", "vllm_tokenize")
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": int(NOW),
        "model": MODEL,
        "choices": [{"index": 0, "text": " there", "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
    }
    reply = json_reply(body, path=COMPLETIONS)
    same = json_reply({"count": 7, "tokens": [1] * 7}, path="/tokenize")
    fewer = json_reply({"count": 9, "tokens": [1] * 9}, path="/tokenize")
    assert check_case(counted, observe(reply, tokenized=same), context()) == []
    assert check_case(counted, observe(reply, tokenized=fewer), context()) == [
        "usage.prompt_tokens is 7 but /tokenize counts 9 tokens for the same input (a dropped "
        "or extra part of the prompt?)"
    ]


def test_a_stop_string_from_the_answer_must_cut_it() -> None:
    stopped = case(body={"messages": [], "temperature": 0}, expect={"stop_from_answer": True})
    assert stopped.capabilities_needed == ("chat", "deterministic")
    natural = "The lighthouse stands on the rock."
    stop = pick_stop(natural)
    assert stop is not None
    assert natural.find(stop) > 0
    request = {"model": MODEL, "stop": [stop]}
    unstopped = json_reply(chat_body(natural, "length"))
    honoured = json_reply(chat_body(natural[: natural.find(stop)], "stop"))
    ignored = json_reply(chat_body(natural, "length"))
    ok = observe(honoured, request, unstopped=unstopped)
    assert check_case(stopped, ok, context()) == []
    found = check_case(stopped, observe(ignored, request, unstopped=unstopped), context())
    assert found[0] == "choice 0: finish_reason 'length', expected 'stop'"
    assert "contains the stop string" in found[1]


def test_pick_stop_needs_a_visible_string_past_the_start() -> None:
    assert pick_stop("") is None
    assert pick_stop("abc") is None
    assert pick_stop("one two three four") == "hree"  # from the middle (index 9)


def metrics(value: float) -> Reply:
    text = f"# TYPE requests counter\nrequests_total {value}\n".encode()
    return Reply("GET", "/metrics", 200, "text/plain; version=0.0.4", text)


def test_metrics_must_move_across_a_served_request() -> None:
    assert metrics_moved(metrics(3), metrics(4)) == []
    assert metrics_moved(metrics(3), metrics(3)) == [
        "no counter of /metrics moved across a served request (1 counters compared): the "
        "values are stale"
    ]
    assert metrics_moved(None, metrics(3))[0].startswith("/metrics before the request failed")


def test_second_request_expectations_are_only_for_their_endpoints() -> None:
    with pytest.raises(ValueError, match=r"expect\.metrics_move is only for api 'metrics'"):
        case(expect={"metrics_move": True})
    with pytest.raises(ValueError, match=r"expect\.stop_from_answer is only for api 'chat'"):
        case(api="models", expect={"stop_from_answer": True})
