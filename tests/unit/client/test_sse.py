"""SSE parsing from raw bytes, as an OpenAI-compatible server frames them."""

from __future__ import annotations

import pytest

from cibench.client.sse import SSEEvent, SSEParser, parse_sse

VLLM_STREAM = (
    b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'
    b"data: [DONE]\n\n"
)


def feed_in_pieces(data: bytes, size: int) -> tuple[list[SSEEvent], SSEParser]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for start in range(0, len(data), size):
        events.extend(parser.feed(data[start : start + size]))
    return events, parser


def test_vllm_stream_gives_one_event_per_data_line() -> None:
    events = parse_sse(VLLM_STREAM)
    assert [event.data[:12] for event in events] == [
        '{"choices":[',
        '{"choices":[',
        '{"choices":[',
        "[DONE]",
    ]
    assert events[-1].is_done
    assert not events[0].is_done


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_splitting_across_reads_changes_nothing(size: int) -> None:
    events, parser = feed_in_pieces(VLLM_STREAM, size)
    assert events == parse_sse(VLLM_STREAM)
    assert not parser.has_partial


@pytest.mark.parametrize("size", [1, 2, 5])
def test_crlf_and_cr_line_endings_split_across_reads(size: int) -> None:
    body = b"data: a\r\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n"
    events, parser = feed_in_pieces(body, size)
    assert [event.data for event in events] == ["a\nb", "c", "d"]
    assert not parser.has_partial


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert parse_sse(b"data: line one\ndata:line two\ndata\n\n") == [
        SSEEvent("line one\nline two\n")
    ]


def test_comments_and_events_without_data_are_dropped() -> None:
    body = b": keep-alive\n\nevent: ping\n\n:another\ndata: x\n\n"
    assert parse_sse(body) == [SSEEvent("x")]


def test_in_band_error_event_keeps_its_type_and_payload() -> None:
    body = b'event: error\ndata: {"error": {"message": "boom", "code": 500}}\n\n'
    assert parse_sse(body) == [SSEEvent('{"error": {"message": "boom", "code": 500}}', "error")]


def test_id_and_retry_fields() -> None:
    assert parse_sse(b"id: 7\nretry: 1500\nretry: soon\ndata: x\n\n") == [
        SSEEvent("x", id="7", retry=1500)
    ]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    assert parse_sse(b"data:  two spaces\n\n") == [SSEEvent(" two spaces")]


def test_utf8_character_split_across_reads() -> None:
    body = "data: 你好\n\n".encode()
    events, _ = feed_in_pieces(body, 1)
    assert events == [SSEEvent("你好")]


def test_truncated_stream_is_reported_as_partial() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"choices": []}\n') == []
    assert parser.has_partial
    parser = SSEParser()
    parser.feed(b"data: {")
    assert parser.has_partial
    assert parse_sse(b"data: unfinished") == []
