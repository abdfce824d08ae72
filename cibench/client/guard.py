"""An httpx transport that keeps a conversation with a misbehaving server bounded and honest.

Used by the functional stage (its cases and the capability probe) so that:

- 401/403 are an authentication error to report (`ServerRefused`), never "unsupported";
- 429 is retried after the server's `Retry-After` (bounded), and reported if it persists;
- every request has a total deadline, not only a per-read timeout (a server that drips bytes
  cannot stretch one request beyond `request_seconds`);
- after `consecutive_timeouts` requests in a row got no answer, the server counts as hung and
  later requests fail at once instead of each waiting out its timeout;
- the whole stage has a deadline (`stage_seconds`), after which requests fail at once.

`ServerRefused` is an `httpx.TransportError`, so code that turns transport failures into a
failed observation (the functional runner) reports it like a refused connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

AUTH_STATUSES = {401: "401 Unauthorized", 403: "403 Forbidden"}


class ServerRefused(httpx.TransportError):
    """The server refused the request in a way that is no evidence about the API (401/403/429,
    hung, or the stage deadline passed)."""


@dataclass(frozen=True, slots=True)
class GuardLimits:
    """How patient to be: per request, with a rate-limiting server, and for the whole stage."""

    request_seconds: float = 60.0
    stage_seconds: float = 600.0
    consecutive_timeouts: int = 3
    max_retry_after_seconds: float = 30.0
    max_rate_limit_retries: int = 3


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date (RFC 9110); None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(slots=True)
class GuardState:
    """What one stage has seen of a server so far; shared by the guards of its tests."""

    stage_deadline: float | None = None
    timeouts_in_a_row: int = 0
    refusal: str | None = None
    """The first refusal seen (401/403, persistent 429, hung server, stage deadline)."""


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that raises `ReadTimeout` once the request's total deadline passes."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float, seconds: float) -> None:
        self._inner = inner
        self._deadline = deadline
        self._seconds = seconds

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout(f"no complete answer within {self._seconds:g} s")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class RequestGuard(httpx.BaseTransport):
    """Wraps a transport (default: a plain `httpx.HTTPTransport`) with the rules above."""

    def __init__(
        self,
        limits: GuardLimits = GuardLimits(),
        inner: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        state: GuardState | None = None,
    ) -> None:
        self.limits = limits
        self._inner = inner or httpx.HTTPTransport()
        self._sleep = sleep
        self.state = GuardState() if state is None else state

    @property
    def refusal(self) -> str | None:
        """The first refusal this stage saw (kept: a wrong key stays wrong)."""
        return self.state.refusal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        self._check_patience(request, what)
        waited = 0.0
        for attempt in range(self.limits.max_rate_limit_retries + 1):
            response = self._send(request, what)
            if response.status_code in AUTH_STATUSES:
                response.close()
                raise self._refused(
                    request,
                    f"{what} answered {AUTH_STATUSES[response.status_code]}: the API key is "
                    "missing or wrong (an authentication error, not a missing capability)",
                )
            if response.status_code != 429:
                return response
            delay = retry_after_seconds(response.headers.get("retry-after"))
            response.close()
            delay = 1.0 * 2**attempt if delay is None else delay
            last = attempt == self.limits.max_rate_limit_retries
            if last or waited + delay > self.limits.max_retry_after_seconds:
                raise self._refused(
                    request,
                    f"{what} answered 429 Too Many Requests {attempt + 1} time(s) (Retry-After "
                    f"{delay:g} s; waited {waited:g} s of at most "
                    f"{self.limits.max_retry_after_seconds:g} s): the server is rate-limiting, "
                    "which says nothing about what it supports",
                )
            self._sleep(delay)
            waited += delay
        raise AssertionError("unreachable")

    def _check_patience(self, request: httpx.Request, what: str) -> None:
        now = time.monotonic()
        state = self.state
        if state.stage_deadline is None:
            state.stage_deadline = now + self.limits.stage_seconds
        if now > state.stage_deadline:
            raise self._refused(
                request,
                f"{what}: not sent, the stage's deadline of {self.limits.stage_seconds:g} s "
                "has passed (settings.yaml functional_timeouts.stage_seconds)",
            )
        if state.timeouts_in_a_row >= self.limits.consecutive_timeouts:
            raise self._refused(
                request,
                f"{what}: not sent, the server left the last {state.timeouts_in_a_row} requests "
                f"unanswered for {self.limits.request_seconds:g} s each and counts as hung",
            )

    def _refused(self, request: httpx.Request, message: str) -> ServerRefused:
        self.state.refusal = self.state.refusal or message
        return ServerRefused(message, request=request)

    def _send(self, request: httpx.Request, what: str) -> httpx.Response:
        deadline = time.monotonic() + self.limits.request_seconds
        try:
            response = self._inner.handle_request(request)
        except httpx.TimeoutException:
            self.state.timeouts_in_a_row += 1
            raise
        if time.monotonic() > deadline:
            response.close()
            self.state.timeouts_in_a_row += 1
            raise httpx.ReadTimeout(
                f"{what}: no answer within {self.limits.request_seconds:g} s", request=request
            )
        self.state.timeouts_in_a_row = 0
        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream):
            response.stream = _DeadlineStream(stream, deadline, self.limits.request_seconds)
        return response

    def close(self) -> None:
        self._inner.close()
