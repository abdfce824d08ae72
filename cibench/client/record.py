"""`RequestRecord`: what one timed request produced, as plain integers from `perf_counter_ns`."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RequestRecord"]


@dataclass(slots=True)
class RequestRecord:
    """One request: when it was due and sent, when content arrived, tokens, and how it ended.

    Times are absolute `time.perf_counter_ns()` values; the runner turns them into offsets.
    `token_ns` holds the arrival time of every chunk that carried generated content, reasoning
    or a tool-call delta (so TTFT is `token_ns[0] - start_ns` and E2E `token_ns[-1] - start_ns`).
    """

    index: int
    epoch: int = 0
    worker: int = 0
    scheduled_ns: int = 0
    """When the schedule wanted the request sent."""
    ready_ns: int = 0
    """When a worker or concurrency slot was free to send it (>= scheduled_ns)."""
    start_ns: int = 0
    """Just before the first request byte was written."""
    end_ns: int = 0
    """When the response was complete, or the failure was noticed."""
    token_ns: list[int] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    requested_output_tokens: int | None = None
    success: bool = False
    http_status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_code: str | None = None
    """The OpenAI error body's `code`, else its `type` (e.g. `rate_limit_exceeded`)."""
    conversation: int | None = None
    """Multi-turn sessions: the conversation this request belongs to (None: not a session)."""
    turn: int | None = None
    """Multi-turn sessions: the turn's position in its conversation, from 0."""

    @property
    def send_lag_ns(self) -> int:
        """How late the harness sent the request once it could (harness health)."""
        return self.start_ns - self.ready_ns

    @property
    def client_queue_ns(self) -> int:
        """How long the request waited for a free worker or slot after it was due."""
        return self.ready_ns - self.scheduled_ns
