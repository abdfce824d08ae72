"""HTTP/1.1 framing: request bytes, and responses decoded from raw reads split anywhere."""

from __future__ import annotations

import pytest

from cibench.client.http1 import HttpFramingError, ResponseReader, encode_request

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"7\r\ndata: a\r\n"
    b"A;ext=1\r\n\n\ndata: bc\r\n"
    b"0\r\n\r\n"
)


def read_all(data: bytes, size: int) -> tuple[bytes, ResponseReader]:
    reader = ResponseReader()
    body = b"".join(reader.feed(data[i : i + size]) for i in range(0, len(data), size))
    return body, reader


def test_request_bytes() -> None:
    payload = encode_request("POST", "127.0.0.1:8000", "/v1/chat/completions", {"A": "b"}, b"{}")
    assert payload == (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nA: b\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )


def test_header_values_cannot_smuggle_lines() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_request("GET", "h", "/", {"X": "a\r\nEvil: 1"})


@pytest.mark.parametrize("size", [1, 2, 5, 17, 1000])
def test_chunked_body_split_anywhere(size: int) -> None:
    body, reader = read_all(CHUNKED, size)
    assert body == b"data: a\n\ndata: bc"
    assert reader.complete
    assert reader.head is not None
    assert reader.head.status == 200
    assert reader.head.headers["content-type"] == "text/event-stream"
    assert reader.head.keep_alive


def test_content_length_body() -> None:
    data = b'HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\n{"error":1}'
    body, reader = read_all(data, 3)
    assert body == b'{"error":1}'
    assert reader.complete
    assert reader.head is not None
    assert (reader.head.status, reader.head.reason) == (400, "Bad Request")


def test_close_delimited_body_ends_at_eof() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.0 200 OK\r\n\r\nhello") == b"hello"
    assert not reader.complete
    reader.feed_eof()
    assert reader.complete
    assert reader.head is not None
    assert not reader.head.keep_alive


def test_connection_close_header_ends_keep_alive() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert reader.complete
    assert reader.head is not None
    assert not reader.head.keep_alive


def test_trailers_after_the_last_chunk() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: 1\r\n\r\n"
    body, reader = read_all(data, 4)
    assert body == b"x"
    assert reader.complete


@pytest.mark.parametrize(
    "data",
    [
        b"SPDY/9 200 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
    ],
)
def test_broken_framing_is_an_error(data: bytes) -> None:
    with pytest.raises(HttpFramingError):
        ResponseReader().feed(data)
