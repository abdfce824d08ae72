"""The runner against a real simulator: requests it builds, follow-ups it sends, raw bytes kept."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from func_support import case

from cibench.functional.runner import build_request, run_case, send
from cibench.sim.testing import run_simulator

MODEL = "m"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with run_simulator("--model", MODEL) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def test_build_request_adds_model_and_stream() -> None:
    streamed = case(stream=True, body={"messages": [], "max_tokens": 3})
    assert build_request(streamed, MODEL) == {
        "messages": [],
        "max_tokens": 3,
        "model": MODEL,
        "stream": True,
    }
    assert "model" not in build_request(case(send_model=False), MODEL)
    assert build_request(case(body={"model": "other"}), MODEL)["model"] == "other"
    assert build_request(case(api="health"), MODEL) == {}


def test_a_stream_is_kept_as_raw_bytes(client: httpx.Client) -> None:
    streamed = case(
        stream=True, body={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}
    )
    observed = run_case(client, streamed, MODEL)
    assert observed.reply.status == 200
    assert observed.reply.content_type.startswith("text/event-stream")
    assert observed.reply.raw.startswith(b"data: {")
    assert observed.reply.raw.endswith(b"data: [DONE]\n\n")


def test_expectations_bring_their_follow_up_requests(client: httpx.Client) -> None:
    checked = case(
        stream=True,
        body={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 0},
        expect={"matches_non_stream": True, "repeatable": True, "healthy_after": True},
    )
    observed = run_case(client, checked, MODEL)
    assert observed.non_stream_twin is not None
    assert observed.non_stream_twin.content_type.startswith("application/json")
    assert observed.repeat is not None
    assert observed.repeat.raw.endswith(b"data: [DONE]\n\n")
    assert observed.health_after is not None
    assert observed.health_after.status == 200
    assert observed.request_after is not None
    assert observed.request_after.status == 200


def test_followups_feed_each_answer_into_the_next_turn(client: httpx.Client) -> None:
    talk = case(
        body={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        followups=["And then?", "Why?"],
    )
    observed = run_case(client, talk, MODEL)
    assert len(observed.earlier_turns) == 2
    roles = [m["role"] for m in observed.request["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert observed.request["messages"][-1]["content"] == "Why?"
    first_answer = json.loads(observed.earlier_turns[0].raw)["choices"][0]["message"]["content"]
    assert observed.request["messages"][1]["content"] == first_answer


def test_raw_bodies_are_sent_verbatim(client: httpx.Client) -> None:
    broken = case(api="raw", method="POST", path="/v1/chat/completions", raw_body="{nope")
    assert run_case(client, broken, MODEL).reply.status == 400


def test_a_dead_server_becomes_a_reply_without_status() -> None:
    with httpx.Client(base_url="http://127.0.0.1:9", timeout=1.0) as dead:
        reply = send(dead, "GET", "/health")
    assert reply.status is None
    assert reply.transport_error is not None
    assert reply.transport_error.startswith("ConnectError")


@contextlib.contextmanager
def dropping_server(drops: int) -> Iterator[tuple[str, list[int]]]:
    """A loopback HTTP server that closes its first `drops` connections without answering
    (as llama.cpp's HTTP library does with a keep-alive connection it retires), then answers
    200. Yields the base URL and the number of requests it read."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen = [0]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                if not conn.recv(65536):
                    continue
                seen[0] += 1
                if seen[0] > drops:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
                    )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        thread.join(timeout=5)


def test_a_connection_closed_without_an_answer_is_retried_once() -> None:
    with dropping_server(drops=1) as (url, seen), httpx.Client(base_url=url, timeout=5) as c:
        reply = send(c, "POST", "/v1/chat/completions", {"model": MODEL})
    assert (reply.status, seen[0]) == (200, 2)


def test_a_server_that_keeps_dropping_the_request_fails_it() -> None:
    with dropping_server(drops=5) as (url, seen), httpx.Client(base_url=url, timeout=5) as c:
        reply = send(c, "POST", "/v1/chat/completions", {"model": MODEL})
    assert reply.status is None
    assert reply.transport_error == (
        "RemoteProtocolError: Server disconnected without sending a response."
    )
    assert seen[0] == 2
