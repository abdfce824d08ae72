"""`check_case` on hand-written replies: what passes, and what each broken answer reports."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from func_support import (
    COMPLETIONS,
    MODEL,
    case,
    chat_body,
    chat_chunks,
    chunk,
    completion_body,
    context,
    json_reply,
    observe,
    sse,
    stream_reply,
)

from cibench.config.functional import FunctionalCase
from cibench.functional.checks import CheckContext, check_case
from cibench.functional.observation import Reply

OK_HEALTH = Reply("GET", "/health", 200)
OK_PLAIN = Reply("POST", "/v1/chat/completions", 200)


def test_a_conforming_chat_answer_passes() -> None:
    chat = case(
        body={"messages": []}, expect={"finish_reason": "stop", "usage": ["prompt_tokens > 0"]}
    )
    assert check_case(chat, observe(json_reply(chat_body())), context()) == []


def test_unexpected_status_is_reported_with_the_body() -> None:
    failures = check_case(case(), observe(json_reply({"detail": "boom"}, 500)), context())
    assert failures == [
        'HTTP status 500, expected 200: POST /v1/chat/completions -> 500 \'{"detail": "boom"}\''
    ]


def test_transport_error_is_a_failure() -> None:
    reply = Reply("POST", "/v1/chat/completions", None, transport_error="ConnectError: refused")
    assert check_case(case(), observe(reply), context()) == [
        "POST /v1/chat/completions: no HTTP answer (ConnectError: refused)"
    ]


def test_unknown_finish_reason_breaks_the_schema() -> None:
    failures = check_case(case(), observe(json_reply(chat_body(finish_reason="done"))), context())
    assert failures == [
        "body.choices[0].finish_reason: 'done' is not one of "
        "['stop', 'length', 'tool_calls', 'content_filter', 'function_call'] "
        "(schema chat_completion)"
    ]


def test_vllm_nulls_and_extra_fields_are_accepted() -> None:
    body = chat_body(reasoning_content=None, refusal=None)
    body["usage"]["prompt_tokens_details"] = None
    body["kv_transfer_params"] = None
    assert check_case(case(), observe(json_reply(body)), context()) == []


def test_wrong_finish_reason_is_reported() -> None:
    capped = case(body={"max_tokens": 4}, expect={"finish_reason": "length"})
    failures = check_case(capped, observe(json_reply(chat_body()), capped.body), context())
    assert failures == ["choice 0: finish_reason 'stop', expected length"]


def test_length_with_fewer_tokens_than_max_tokens_is_inconsistent() -> None:
    request = {"max_tokens": 16}
    failures = check_case(
        case(), observe(json_reply(chat_body(finish_reason="length")), request), context()
    )
    assert failures == ["finish_reason 'length' but only 4 of max_tokens 16 tokens were generated"]


def test_usage_total_must_add_up() -> None:
    body = chat_body(usage={"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 12})
    assert check_case(case(), observe(json_reply(body)), context()) == [
        "usage relation 'total_tokens == prompt_tokens + completion_tokens' does not hold: "
        "12 == 11 is false"
    ]


def test_content_regex_and_json_schema() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    guided = case(expect={"content_regex": "^\\{", "content_json_schema": schema})
    assert check_case(guided, observe(json_reply(chat_body('{"age": 3}'))), context()) == []
    failures = check_case(guided, observe(json_reply(chat_body("Sure! Here it is."))), context())
    assert failures == [
        "choice 0: content 'Sure! Here it is.' does not match /^\\{/",
        "choice 0: content is not JSON (Expecting value): 'Sure! Here it is.'",
    ]
    wrong = check_case(guided, observe(json_reply(chat_body('{"age": "three"}'))), context())
    assert wrong == [
        "choice 0: content does not validate against the requested schema: "
        "'three' is not of type 'integer'"
    ]


# ---- errors --------------------------------------------------------------------------------


def bad_request(body: object, status: int = 400) -> Reply:
    return json_reply(body, status)


NESTED = {
    "error": {
        "message": "temperature must be >= 0",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
}
FLAT = {
    "object": "error",
    "message": "temperature must be >= 0",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}


def test_error_in_the_detected_envelope_passes() -> None:
    invalid = case(expect={"status": 400, "error_message_regex": "temperature"})
    assert check_case(invalid, observe(bad_request(NESTED)), context(error_style="nested")) == []
    assert check_case(invalid, observe(bad_request(FLAT)), context(error_style="flat")) == []
    assert check_case(invalid, observe(bad_request(FLAT)), context(error_style=None)) == []


def test_error_in_the_other_envelope_fails() -> None:
    failures = check_case(case(expect={"status": 400}), observe(bad_request(FLAT)), context())
    assert failures == [
        "error body: 'error' is a required property (schema error_nested)",
        "(this server's probe found the nested error envelope; all errors must use it)",
    ]


def test_error_that_is_no_openai_body_fails() -> None:
    failures = check_case(
        case(expect={"status": 400}),
        observe(bad_request({"detail": "bad"})),
        context(error_style=None),
    )
    assert len(failures) == 1
    assert failures[0].startswith("POST /v1/chat/completions: error body is neither the nested")


def test_500_instead_of_400_fails() -> None:
    failures = check_case(
        case(expect={"status": 400}), observe(bad_request(NESTED, 500)), context()
    )
    assert failures[0].startswith("HTTP status 500, expected 400")


def test_server_unhealthy_after_a_bad_request_fails() -> None:
    invalid = case(expect={"status": 400, "healthy_after": True})
    healthy = observe(bad_request(NESTED), health_after=OK_HEALTH, request_after=OK_PLAIN)
    assert check_case(invalid, healthy, context()) == []
    sick = observe(
        bad_request(NESTED), health_after=Reply("GET", "/health", 503), request_after=OK_PLAIN
    )
    assert check_case(invalid, sick, context()) == [
        "server unhealthy after the request: GET /health -> 503 ''"
    ]


# ---- streams -------------------------------------------------------------------------------


def streamed(**fields: object) -> FunctionalCase:
    return case(stream=True, **fields)


def test_a_conforming_stream_passes() -> None:
    raw = sse(*chat_chunks("Hel", "lo", "."))
    assert (
        check_case(
            streamed(expect={"content_regex": "^Hello\\.$"}), observe(stream_reply(raw)), context()
        )
        == []
    )


def test_stream_without_done_fails() -> None:
    raw = sse(*chat_chunks("Hi"), done=0)
    assert check_case(streamed(), observe(stream_reply(raw)), context()) == [
        "the stream ended without a 'data: [DONE]' event"
    ]


def test_done_twice_and_events_after_done_fail() -> None:
    raw = sse(*chat_chunks("Hi"), done=2)
    assert check_case(streamed(), observe(stream_reply(raw)), context()) == [
        "'data: [DONE]' was sent 2 times, expected once"
    ]
    late = sse(*chat_chunks("Hi")) + sse(chunk({"content": "!"}), done=0)
    failures = check_case(streamed(), observe(stream_reply(late)), context())
    assert "1 event(s) follow 'data: [DONE]'" in failures


def test_truncated_stream_fails() -> None:
    raw = sse(*chat_chunks("Hi"), done=0) + b'data: {"id": "chatcmpl-1"'
    assert check_case(streamed(), observe(stream_reply(raw)), context()) == [
        "the stream ends inside an event (the last lines are not closed by a blank line)",
        "the stream ended without a 'data: [DONE]' event",
    ]


def test_non_json_event_fails() -> None:
    raw = sse(*chat_chunks("Hi"), "not json")
    assert check_case(streamed(), observe(stream_reply(raw)), context()) == [
        "event 2: data is not JSON (Expecting value): 'not json'"
    ]


def test_wrong_content_type_of_a_stream_fails() -> None:
    reply = Reply("POST", "/v1/chat/completions", 200, "application/json", sse(*chat_chunks("Hi")))
    assert check_case(streamed(), observe(reply), context()) == [
        "content-type is 'application/json', expected 'text/event-stream' for a stream"
    ]


def test_in_band_error_event_fails() -> None:
    error = {
        "error": {"message": "Internal server error", "type": "InternalServerError", "code": 500}
    }
    raw = sse(chat_chunks("Hi")[0], error)
    failures = check_case(streamed(), observe(stream_reply(raw)), context())
    assert "event 1 is an in-band error: 'Internal server error'" in failures


def test_role_must_come_first_and_finish_reason_once() -> None:
    chunks = [chunk({"content": "Hi"}, "stop"), chunk({"content": "!"}, "stop")]
    failures = check_case(streamed(), observe(stream_reply(sse(*chunks))), context())
    assert failures == [
        "choice 0: first chunk has delta.role None, expected 'assistant'",
        "choice 0: 2 chunks carry a finish_reason (['stop', 'stop']), expected exactly one",
    ]


def test_include_usage_needs_the_final_usage_chunk() -> None:
    request = {"stream": True, "stream_options": {"include_usage": True}}
    usage_chunk = chunk(
        choices=[], usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    )
    good = sse(*chat_chunks("a", "b"), usage_chunk)
    with_usage = streamed(expect={"usage": ["completion_tokens == 2"]})
    assert check_case(with_usage, observe(stream_reply(good), request), context()) == []
    missing = sse(*chat_chunks("a", "b"))
    assert check_case(with_usage, observe(stream_reply(missing), request), context()) == [
        "stream_options.include_usage: the last chunk must have 'choices': [] and usage",
        "no usage in the response, but the case checks usage relations",
    ]


def test_usage_without_asking_fails() -> None:
    chunks = [
        *chat_chunks("a"),
        chunk(choices=[], usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
    ]
    failures = check_case(streamed(), observe(stream_reply(sse(*chunks))), context())
    assert failures == ["1 chunk(s) carry usage although stream_options.include_usage was not set"]


def test_stream_must_match_the_non_streamed_answer() -> None:
    twin = json_reply(chat_body("Hello."))
    same = observe(stream_reply(sse(*chat_chunks("Hel", "lo."))), non_stream_twin=twin)
    matching = streamed(expect={"matches_non_stream": True})
    assert check_case(matching, same, context()) == []
    other = observe(stream_reply(sse(*chat_chunks("Bye."))), non_stream_twin=twin)
    assert check_case(matching, other, context()) == [
        "answer differs from the same request without streaming: [(0, 'Bye.', '', (), 'stop')] "
        "versus [(0, 'Hello.', '', (), 'stop')] (index, content, reasoning, tool calls, "
        "finish_reason)"
    ]


def test_repeatability_covers_reasoning_too() -> None:
    again = case(body={"messages": []}, expect={"repeatable": True})
    first = json_reply(chat_body("Hi.", reasoning="think A"))
    second = json_reply(chat_body("Hi.", reasoning="think B"))
    failures = check_case(again, observe(first, repeat=second), context())
    assert len(failures) == 1
    assert "'think A'" in failures[0]
    assert "'think B'" in failures[0]
    assert check_case(again, observe(first, repeat=first), context()) == []


def test_completion_stream_reassembles_text() -> None:
    def piece(text: str, finish: str | None) -> dict[str, object]:
        return {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": MODEL,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
        }

    raw = sse(piece(" Par", None), piece("is", "length"))
    completions = case(
        api="completions",
        stream=True,
        expect={"content_regex": "^ Paris$", "finish_reason": "length"},
    )
    assert check_case(completions, observe(stream_reply(raw, COMPLETIONS)), context()) == []


def llamacpp_piece(text: str, finish: str | None, **top: object) -> dict[str, object]:
    """A completions chunk as llama-server streams it (ids prefixed chatcmpl-)."""
    choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
    return {
        "choices": [choice],
        "created": 1795363925,
        "model": MODEL,
        "system_fingerprint": "b0-unknown",
        "object": "text_completion",
        "id": "chatcmpl-1",
        **top,
    }


USAGE_3_2 = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
ON_FINISH = sse(
    llamacpp_piece("a", None),
    llamacpp_piece("b", None),
    llamacpp_piece("", "length", usage=USAGE_3_2),
)


def finish_style() -> CheckContext:
    return replace(context(), completions_usage="finish")


@pytest.mark.parametrize("include_usage", [True, False])
def test_usage_on_the_finish_chunk_passes_where_the_probe_found_that_style(
    include_usage: bool,
) -> None:
    request = {"stream": True, "stream_options": {"include_usage": include_usage}}
    completions = case(api="completions", stream=True, expect={"usage": ["completion_tokens == 2"]})
    observed = observe(stream_reply(ON_FINISH, COMPLETIONS), request)
    assert check_case(completions, observed, finish_style()) == []
    expected = (
        ["stream_options.include_usage: the last chunk must have 'choices': [] and usage"]
        if include_usage
        else ["1 chunk(s) carry usage although stream_options.include_usage was not set"]
    )
    assert check_case(completions, observed, context()) == expected


def test_the_finish_style_still_wants_usage_last_and_only_on_completions() -> None:
    early = sse(
        llamacpp_piece("a", None, usage=USAGE_3_2), llamacpp_piece("", "length", usage=USAGE_3_2)
    )
    completions = case(api="completions", stream=True)
    assert check_case(completions, observe(stream_reply(early, COMPLETIONS)), finish_style()) == [
        "2 chunk(s) carry usage although stream_options.include_usage was not set"
    ]
    chat_on_finish = [*chat_chunks("a")[:-1], chunk({"content": "a"}, "stop", usage=USAGE_3_2)]
    assert check_case(streamed(), observe(stream_reply(sse(*chat_on_finish))), finish_style()) == [
        "1 chunk(s) carry usage although stream_options.include_usage was not set"
    ]


def test_continuous_usage_wants_usage_in_every_chunk_with_text() -> None:
    request = {
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }
    final = chunk(choices=[], usage=USAGE_3_2)
    every = [
        chat_chunks("a", "b")[0],
        *(c | {"usage": USAGE_3_2} for c in chat_chunks("a", "b")[1:]),
    ]
    assert (
        check_case(streamed(), observe(stream_reply(sse(*every, final)), request), context()) == []
    )
    ignored = sse(*chat_chunks("a", "b"), final)
    assert check_case(streamed(), observe(stream_reply(ignored), request), context()) == [
        "stream_options.continuous_usage_stats: 2 of 2 chunk(s) with generated text carry no usage"
    ]


# ---- tools, reasoning, logprobs ------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def tool_call(arguments: str, name: str = "get_weather") -> dict[str, object]:
    return {
        "id": "chatcmpl-tool-1",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def test_tool_call_arguments_are_validated_against_the_tool_schema() -> None:
    request = {"tools": [WEATHER], "tool_choice": "required"}
    tools = case(
        expect={"tool_calls": True, "tool_name": "get_weather", "tool_arguments_valid": True}
    )
    good = chat_body(None, "tool_calls", tool_calls=[tool_call('{"city": "Paris"}')])
    assert check_case(tools, observe(json_reply(good), request), context()) == []
    bad = chat_body(None, "tool_calls", tool_calls=[tool_call('{"town": "Paris"}')])
    assert check_case(tools, observe(json_reply(bad), request), context()) == [
        'choice 0 tool_calls[0]: arguments \'{"town": "Paris"}\' break the tool schema: '
        "'city' is a required property"
    ]


def test_tool_call_arguments_must_be_json_and_name_a_known_tool() -> None:
    request = {"tools": [WEATHER]}
    body = chat_body(None, "tool_calls", tool_calls=[tool_call("{city: Paris", name="get_time")])
    assert check_case(case(), observe(json_reply(body), request), context()) == [
        "choice 0 tool_calls[0]: calls 'get_time', which is not among the tools ['get_weather']",
        "choice 0 tool_calls[0]: arguments are not JSON (Expecting property name enclosed in "
        "double quotes): '{city: Paris'",
    ]


def test_ignored_tools_fail_a_case_that_expects_a_call() -> None:
    request = {"tools": [WEATHER], "tool_choice": "required"}
    failures = check_case(
        case(expect={"tool_calls": True}),
        observe(json_reply(chat_body("Sunny.")), request),
        context(),
    )
    assert failures == ["choice 0: no tool_calls (content 'Sunny.')"]


def test_streamed_tool_call_deltas_reassemble() -> None:
    header = {
        "tool_calls": [
            {
                "index": 0,
                "id": "call-1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk(header),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}, "tool_calls"),
    ]
    tools = case(stream=True, expect={"tool_calls": True, "tool_arguments_valid": True})
    request = {"tools": [WEATHER], "stream": True}
    assert check_case(tools, observe(stream_reply(sse(*chunks)), request), context()) == []


def test_reasoning_is_read_from_the_configured_key() -> None:
    wants = case(expect={"reasoning": True})
    body = chat_body("Yes.", reasoning="17 has no divisors.")
    assert check_case(wants, observe(json_reply(body)), context(reasoning_key="reasoning")) == []
    assert check_case(wants, observe(json_reply(body)), context(reasoning_key=None)) == []
    assert check_case(
        wants, observe(json_reply(body)), context(reasoning_key="reasoning_content")
    ) == [
        "choice 0: no non-empty reasoning under reasoning_content; found reasoning under "
        "['reasoning'] instead"
    ]


def test_hidden_reasoning_must_be_absent() -> None:
    hidden = case(expect={"reasoning": False})
    assert (
        check_case(
            hidden, observe(json_reply(chat_body("Yes.", reasoning_content=None))), context()
        )
        == []
    )
    shown = json_reply(chat_body("Yes.", reasoning_content="thinking"))
    assert check_case(hidden, observe(shown), context()) == [
        "choice 0: reasoning present under ['reasoning_content'], expected none"
    ]


@pytest.mark.parametrize(
    ("alternatives", "failures"),
    [(2, []), (3, ["choice 0: top_logprobs has [3] entries per token, expected [2]"])],
)
def test_top_logprobs_count(alternatives: int, failures: list[str]) -> None:
    def token(text: str) -> dict[str, object]:
        tops = [{"token": f"t{i}", "logprob": -1.0 * i, "bytes": None} for i in range(alternatives)]
        return {"token": text, "logprob": -0.1, "bytes": None, "top_logprobs": tops}

    body = chat_body("ab")
    body["choices"][0]["logprobs"] = {"content": [token("a"), token("b")]}
    logprobs = case(expect={"logprobs": True, "top_logprobs": 2})
    assert check_case(logprobs, observe(json_reply(body)), context()) == failures


def test_choice_count_follows_n() -> None:
    failures = check_case(case(), observe(json_reply(chat_body()), {"n": 2}), context())
    assert failures == ["choice indices [0], expected [0, 1]"]


def test_a_completion_body_is_checked_with_its_own_schema() -> None:
    completions = case(api="completions", expect={"finish_reason": "stop"})
    assert (
        check_case(completions, observe(json_reply(completion_body(), path=COMPLETIONS)), context())
        == []
    )
    chatty = json_reply(chat_body(), path=COMPLETIONS)
    failures = check_case(completions, observe(chatty), context())
    assert failures[0] == "body.choices[0]: 'text' is a required property (schema completion)"


# ---- other endpoints -----------------------------------------------------------------------


def test_models_must_list_the_served_model() -> None:
    listing = {
        "object": "list",
        "data": [{"id": "other", "object": "model", "created": 1, "owned_by": "vllm"}],
    }
    reply = Reply("GET", "/v1/models", 200, "application/json", json.dumps(listing).encode())
    assert check_case(
        case(api="models", expect={"models_served": True}), observe(reply), context()
    ) == ["/v1/models lists ['other'], not the served model 'sim-model'"]


def test_metrics_must_be_prometheus_text_with_the_named_metrics() -> None:
    text = (
        "# HELP vllm:num_requests_running Running.\n# TYPE vllm:num_requests_running gauge\n"
        'vllm:num_requests_running{model_name="m"} 0.0\n'
        "# HELP vllm:prompt_tokens_total Prompt tokens.\n# TYPE vllm:prompt_tokens_total counter\n"
        'vllm:prompt_tokens_total{model_name="m"} 12.0\n'
    )
    reply = Reply("GET", "/metrics", 200, "text/plain; version=0.0.4", text.encode())
    metrics = case(
        api="metrics",
        expect={
            "prometheus": True,
            "metric_names": [
                "vllm:num_requests_running",
                "vllm:prompt_tokens_total",
                "vllm:e2e_request_latency_seconds",
            ],
        },
    )
    assert check_case(metrics, observe(reply), context()) == [
        "/metrics has no metric 'vllm:e2e_request_latency_seconds'"
    ]
    html = Reply("GET", "/metrics", 200, "text/html", b"<html>{oops</html>")
    failures = check_case(
        case(api="metrics", expect={"prometheus": True}), observe(html), context()
    )
    assert failures[0] == "/metrics content-type is 'text/html', expected text/plain"
    assert failures[1].startswith("/metrics is not Prometheus text exposition")


def test_json_keys_of_a_service_endpoint() -> None:
    reply = Reply("GET", "/version", 200, "application/json", b'{"build": "x"}')
    assert check_case(
        case(api="version", expect={"json_keys": ["version"]}), observe(reply), context()
    ) == ["GET /version: body has no key 'version': '{\"build\": \"x\"}'"]


def test_failed_earlier_turn_is_reported() -> None:
    earlier = [json_reply({"error": {"message": "x", "type": "t"}}, 500)]
    failures = check_case(
        case(), observe(json_reply(chat_body()), earlier_turns=earlier), context()
    )
    assert failures[0].startswith(
        "turn 1 of the conversation failed: POST /v1/chat/completions -> 500"
    )
