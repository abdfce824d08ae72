"""`ResponseTimer`: timestamped reads of one response become its `RequestRecord`."""

from __future__ import annotations

import json

from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest, ResponseTimer, error_text

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(*events: object) -> bytes:
    data = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )
    return b"%x\r\n%s\r\n" % (len(data), data)


def delta(**fields: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": fields}]}


USAGE = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
END = chunk(USAGE, b"[DONE]") + b"0\r\n\r\n"


def timer(stream: bool = True, secret: str | None = None) -> ResponseTimer:
    record = RequestRecord(index=0, start_ns=1_000)
    return ResponseTimer(PreparedRequest(0, b"", stream, 2), record, secret)


def test_timestamps_come_from_reads_carrying_output() -> None:
    t = timer()
    assert not t.feed(1_100, HEAD + chunk(delta(role="assistant", content="")))
    assert not t.feed(2_000, chunk(delta(content="Hi")))
    assert not t.feed(3_000, chunk(delta(reasoning_content="hmm")))
    assert t.feed(4_000, END)
    record = t.finish(4_100)
    assert record.success
    assert record.token_ns == [2_000, 3_000]  # the role-only chunk does not count
    assert (record.prompt_tokens, record.completion_tokens) == (7, 2)
    assert (record.http_status, record.end_ns) == (200, 4_100)


def test_tool_call_and_completions_text_count_as_output() -> None:
    t = timer()
    t.feed(2_000, HEAD + chunk(delta(tool_calls=[{"index": 0, "function": {"name": "f"}}])))
    t.feed(3_000, chunk({"choices": [{"index": 0, "text": "x"}]}))
    t.feed(4_000, END)
    assert t.finish(4_000).token_ns == [2_000, 3_000]


def test_in_band_error_event_is_a_failure() -> None:
    t = timer()
    t.feed(2_000, HEAD + chunk(delta(content="a")))
    t.feed(3_000, chunk({"error": {"message": "engine died", "code": 500}}) + END)
    record = t.finish(3_000)
    assert not record.success
    assert (record.error_type, record.error_message) == ("StreamError", "engine died")


def test_connection_closed_mid_stream_is_truncated() -> None:
    t = timer()
    t.feed(2_000, HEAD + chunk(delta(content="a")))
    record = t.eof(2_500)
    assert not record.success
    assert record.error_type == "Truncated"


def test_stream_without_output_is_empty() -> None:
    t = timer()
    t.feed(2_000, HEAD + END)
    record = t.finish(2_000)
    assert (record.success, record.error_type) == (False, "EmptyResponse")


def test_http_error_keeps_the_openai_message_without_the_key() -> None:
    body = b'{"error": {"message": "bad key sk-secret", "type": "auth"}}'
    head = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n" % len(body)
    t = timer(secret="sk-secret")
    assert t.feed(2_000, head + body)
    record = t.finish(2_000)
    assert (record.success, record.http_status, record.error_type) == (False, 401, "HTTP401")
    assert record.error_message == "bad key ***"


def test_error_text_reads_nested_flat_and_plain_bodies() -> None:
    assert error_text(b'{"error": {"message": "nested"}}') == "nested"
    assert error_text(b'{"object": "error", "message": "flat"}') == "flat"
    assert error_text(b"  Internal Server Error ") == "Internal Server Error"


def test_non_streamed_response_reads_usage() -> None:
    body = json.dumps(
        {"choices": [{"message": {"content": "hi"}}], "usage": {"completion_tokens": 2}}
    ).encode()
    t = timer(stream=False)
    t.feed(5_000, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    record = t.finish(5_000)
    assert record.success
    assert record.token_ns == []
    assert record.completion_tokens == 2


def test_timeout_reported_by_the_driver() -> None:
    t = timer()
    t.feed(2_000, HEAD)
    record = t.fail(9_000, "Timeout", "no complete response after 5 s")
    assert (record.success, record.error_type, record.end_ns) == (False, "Timeout", 9_000)
