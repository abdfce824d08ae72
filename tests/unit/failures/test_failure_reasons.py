"""Every failed request gets a reason class (pure classification of a `RequestRecord`)."""

from __future__ import annotations

import pytest

from cibench.client.record import RequestRecord
from cibench.failures.reasons import failure_reason, format_reasons, parse_reasons, reason_counts


def failed(
    error_type: str, message: str = "", code: str | None = None, tokens: int = 0
) -> RequestRecord:
    return RequestRecord(
        index=0,
        success=False,
        error_type=error_type,
        error_message=message,
        error_code=code,
        token_ns=list(range(tokens)),
    )


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (failed("Timeout", "no data for 5 s"), "timeout_first_byte"),
        (failed("Timeout", "no data for 5 s", tokens=3), "timeout_stall"),
        (
            failed("ConnectError", "127.0.0.1:9: [Errno 111] Connection refused"),
            "connection_refused",
        ),
        (failed("ConnectError", "127.0.0.1:9: timed out"), "timeout_connect"),
        (
            failed("ConnectionResetError", "[Errno 104] Connection reset by peer"),
            "connection_reset",
        ),
        (failed("ConnectionClosed", "closed before any response byte"), "connection_closed"),
        (failed("HTTP429", "Too many requests"), "http_429:rate_limit"),
        (
            failed("HTTP429", "slow down", code="rate_limit_exceeded"),
            "http_429:rate_limit_exceeded",
        ),
        (
            failed(
                "HTTP400",
                "This model's maximum context length is 4096 tokens. However, you requested 5000",
                code="BadRequestError",
            ),
            "http_400:context_length",
        ),
        (
            failed("HTTP400", "temperature must be >= 0", code="BadRequestError"),
            "http_400:BadRequestError",
        ),
        (failed("HTTP500", "boom", code="InternalServerError"), "http_500:InternalServerError"),
        (failed("HTTP503", "Service Unavailable"), "http_503"),
        (failed("StreamError", "engine overloaded"), "stream_error"),
        (failed("BadChunk", "stream chunk is not JSON"), "malformed_stream"),
        (failed("HttpFramingError", "bad chunk size"), "malformed_stream"),
        (failed("Truncated", "stream ended inside an SSE event"), "truncated_stream"),
        (failed("EmptyResponse", "no chunk carried content"), "empty_response"),
        (failed("OSError", "weird"), "oserror"),
    ],
)
def test_each_failure_gets_its_reason_class(record: RequestRecord, reason: str) -> None:
    assert failure_reason(record) == reason


def test_a_success_has_no_reason() -> None:
    assert failure_reason(RequestRecord(index=0, success=True)) is None


def test_connection_failures_after_the_server_exited_are_a_crash() -> None:
    refused = failed("ConnectError", "Connection refused")
    assert failure_reason(refused, server_exited=True) == "server_crash"
    # an HTTP answer still came from a live server, whatever happened later
    assert failure_reason(failed("HTTP500", "x"), server_exited=True) == "http_500"


def test_reasons_are_counted_most_frequent_first_and_round_trip_through_text() -> None:
    records = [failed("HTTP500", "x")] * 3 + [failed("Timeout", tokens=2)] * 5
    records.append(RequestRecord(index=1, success=True))
    counts = reason_counts(records)
    assert counts == {"timeout_stall": 5, "http_500": 3}
    assert format_reasons(counts) == "timeout_stall=5;http_500=3"
    assert parse_reasons("timeout_stall=5;http_500=3") == counts
    assert parse_reasons("") == {}
