"""Send chat prompts to an OpenAI-compatible server with bounded retries, timeouts and threads.

Unlike simple-evals' own sampler, nothing here retries forever: a request is tried at most
`1 + max_retries` times, each attempt has a total deadline, and a response whose
`message.content` is null (a reasoning model cut by `max_tokens`) is returned as is — it scores 0.
Every failure becomes a `SamplerResponse` with `error` set, which the eval counts as wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from cibench.client.endpoint import auth_headers
from cibench.client.guard import retry_after_seconds
from cibench.redact import register_secret, scrub

# Statuses worth another try: the server may recover (overload, restart, gateway hiccup).
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0
REASONING_KEYS = ("reasoning_content", "reasoning")


@dataclass(frozen=True, slots=True)
class SamplerConfig:
    """Where to send prompts and how patiently: one per eval run."""

    api_base: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    max_tokens: int = 2048
    temperature: float = 0.0
    timeout_seconds: float = 300.0
    max_retries: int = 2
    backoff_seconds: float = 1.0
    num_threads: int = 4


@dataclass(frozen=True, slots=True)
class SamplerResponse:
    """One prompt's outcome: content (None when null or failed), reasoning and the last error."""

    content: str | None
    reasoning: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    status: int | None = None
    attempts: int = 1
    latency_s: float = 0.0


class _AttemptFailed(Exception):
    """One attempt failed; `retry` says whether another attempt may help."""

    def __init__(
        self,
        message: str,
        retry: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.status = status
        self.retry_after = retry_after


class ChatSampler:
    """A thread-safe chat-completions client; use as a context manager (`with ChatSampler(c):`)."""

    def __init__(self, config: SamplerConfig) -> None:
        self.config = config
        self._client: httpx.Client | None = None

    def __enter__(self) -> ChatSampler:
        headers = {"Content-Type": "application/json", **auth_headers(self.config.api_key)}
        threads = self.config.num_threads
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.config.timeout_seconds),
            limits=httpx.Limits(max_connections=threads, max_keepalive_connections=threads),
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _scrub(self, text: str) -> str:
        # A server may echo request headers in an error body; the key must never reach a report.
        register_secret(self.config.api_key)
        return scrub(text)

    def _attempt(self, body: dict[str, Any]) -> SamplerResponse:
        if self._client is None:
            raise RuntimeError("ChatSampler used outside its `with` block")
        url = f"{self.config.api_base.rstrip('/')}/chat/completions"
        deadline = time.monotonic() + self.config.timeout_seconds
        try:
            with self._client.stream("POST", url, json=body) as response:
                chunks: list[bytes] = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise _AttemptFailed(
                            f"no complete response within {self.config.timeout_seconds:g} s",
                            retry=True,
                        )
                status = response.status_code
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
        except httpx.TimeoutException as exc:
            raise _AttemptFailed(
                f"timed out after {self.config.timeout_seconds:g} s ({type(exc).__name__})",
                retry=True,
            ) from exc
        except httpx.TransportError as exc:
            raise _AttemptFailed(f"{type(exc).__name__}: {exc}", retry=True) from exc
        raw = b"".join(chunks).decode("utf-8", errors="replace")
        if status != 200:
            raise _AttemptFailed(
                f"HTTP {status}: {raw[:300]}",
                retry=status in RETRY_STATUSES,
                status=status,
                retry_after=retry_after,
            )
        return _parse_completion(raw)

    def complete(self, prompt: str) -> SamplerResponse:
        """Ask for one completion of a single user message; never raises for server trouble."""
        body = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                result = self._attempt(body)
            except _AttemptFailed as failure:
                if failure.retry and attempts <= self.config.max_retries:
                    backoff = self.config.backoff_seconds * 2 ** (attempts - 1)
                    if failure.retry_after is not None:  # the server said when (429, 503)
                        backoff = failure.retry_after
                    time.sleep(min(backoff, MAX_BACKOFF_SECONDS))
                    continue
                return SamplerResponse(
                    content=None,
                    error=self._scrub(failure.message),
                    status=failure.status,
                    attempts=attempts,
                    latency_s=time.monotonic() - started,
                )
            return SamplerResponse(
                content=result.content,
                reasoning=result.reasoning,
                finish_reason=result.finish_reason,
                error=result.error,
                status=200,
                attempts=attempts,
                latency_s=time.monotonic() - started,
            )

    def complete_all(self, prompts: Sequence[str]) -> list[SamplerResponse]:
        """Complete every prompt on `num_threads` threads; results keep the prompts' order."""
        if not prompts:
            return []
        workers = min(self.config.num_threads, len(prompts))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="accuracy") as pool:
            return list(pool.map(self.complete, prompts))


def _parse_completion(raw: str) -> SamplerResponse:
    """Content, reasoning and finish reason of a 200 response; a malformed body is an error."""
    try:
        payload = json.loads(raw)
        choice = payload["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return SamplerResponse(
            content=None, error=f"malformed chat completion ({type(exc).__name__}): {raw[:300]}"
        )
    content = message.get("content") if isinstance(message, dict) else None
    reasoning = None
    if isinstance(message, dict):
        for key in REASONING_KEYS:
            value = message.get(key)
            if isinstance(value, str) and value:
                reasoning = value
                break
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    return SamplerResponse(
        content=content if isinstance(content, str) else None,
        reasoning=reasoning,
        finish_reason=finish if isinstance(finish, str) else None,
    )
