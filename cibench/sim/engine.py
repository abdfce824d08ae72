"""Continuous-batching timing model: admission, KV budget, preemption and token deadlines.

The model is pure bookkeeping over an injected clock (a `Callable[[], float]` in seconds), so it
can be driven by a fake clock in tests; `app` drives it with `loop.time()` and sleeps until
each deadline.

* At most `max_num_seqs` sequences run; the rest wait in a FIFO queue. A sequence is admitted
  when a slot is free and its KV need (prompt + already generated tokens) fits the KV budget
  beside the running ones (a lone sequence is always admitted, so nothing deadlocks).
* On admission the first token is due after `prefill_base + prefill_per_token * tokens`, where
  tokens is the prompt (plus, after a preemption, what it had generated: recompute).
  TTFT as a client sees it is therefore queue wait + prefill.
* Every later token is due `itl_base + itl_per_running_seq * running` after the previous
  deadline (not after the moment the server woke up), so late wake-ups do not accumulate;
  a sequence that fell more than a whole interval behind restarts from "now" instead of
  bursting to catch up.
* When a generated token would overflow the KV budget, the newest running sequence is
  preempted back to the head of the queue (possibly the one generating) and counted.
* Every interval is multiplied by `slowdown` and, when `jitter` > 0, by a seeded uniform
  factor in [1 - jitter, 1 + jitter], and by `1 + degrade_per_request x finished sequences`.
"""

from __future__ import annotations

import contextlib
import enum
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimingModel:
    """Latency parameters in seconds."""

    prefill_base_s: float = 0.0
    prefill_per_token_s: float = 0.0
    itl_base_s: float = 0.0
    itl_per_running_seq_s: float = 0.0
    jitter: float = 0.0
    slowdown: float = 1.0
    degrade_per_request: float = 0.0
    """Every finished sequence makes later intervals this fraction slower (a degrading server)."""


@dataclass(frozen=True, slots=True)
class Capacity:
    """Batch limits: running sequences and KV tokens."""

    max_num_seqs: int = 256
    kv_cache_tokens: int = 1_000_000


class SeqState(enum.Enum):
    """Where a sequence is in its life."""

    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(eq=False, slots=True)
class Sequence:
    """One request in the engine; `weight` sequences (n choices) decode in lock step."""

    seq_id: int
    prompt_tokens: int
    output_tokens: int
    weight: int
    arrival_s: float
    state: SeqState = SeqState.WAITING
    generated: int = 0
    deadline_s: float = math.inf
    first_admitted_s: float | None = None
    admitted_s: float | None = None
    num_preemptions: int = 0
    cached_tokens: int = 0
    """Prompt tokens found in the prefix cache: no prefill time for them."""

    @property
    def kv_tokens(self) -> int:
        """KV cache this sequence holds (or needs) right now."""
        return self.prompt_tokens + self.generated * self.weight

    @property
    def done(self) -> bool:
        """Whether every output token has been produced or the sequence was aborted."""
        return self.state is SeqState.FINISHED


@dataclass(slots=True)
class _Counters:
    preemptions: int = 0


class Engine:
    """Schedules sequences and hands out token deadlines; see the module docstring."""

    def __init__(
        self,
        timing: TimingModel,
        capacity: Capacity,
        clock: Callable[[], float],
        rng: random.Random,
        on_admit: Callable[[Sequence], None] = lambda seq: None,
    ) -> None:
        """:param on_admit: called for every sequence that becomes RUNNING (to wake its driver)."""
        self._timing = timing
        self._capacity = capacity
        self._clock = clock
        self._rng = rng
        self._on_admit = on_admit
        self._waiting: deque[Sequence] = deque()
        # insertion order = admission order, so the last key is the newest running sequence
        self._running: dict[int, Sequence] = {}
        self._kv_used = 0
        self._next_id = 0
        self._counters = _Counters()
        self.finished = 0
        """Sequences that generated all their tokens (drives `degrade_per_request`)."""

    @property
    def num_running(self) -> int:
        """Sequences currently decoding."""
        return len(self._running)

    @property
    def num_waiting(self) -> int:
        """Sequences in the queue (new or preempted)."""
        return len(self._waiting)

    @property
    def kv_usage(self) -> float:
        """Fraction of the KV budget held by running sequences (may exceed 1 for a lone giant)."""
        return self._kv_used / self._capacity.kv_cache_tokens

    @property
    def num_preemptions(self) -> int:
        """Preemptions since start."""
        return self._counters.preemptions

    def submit(
        self,
        prompt_tokens: int,
        output_tokens: int,
        weight: int = 1,
        arrival_s: float | None = None,
        cached_tokens: int = 0,
    ) -> Sequence:
        """Queue a new request and admit what fits; returns its sequence.

        :param cached_tokens: prompt tokens the prefix cache holds (prefilled for free).

        :param arrival_s: when the request reached the server (default: now); a request admitted
            at once starts its prefill then, so parsing time is not added to its TTFT.
        """
        now = self._clock()
        arrival = now if arrival_s is None else min(arrival_s, now)
        seq = Sequence(
            seq_id=self._next_id,
            prompt_tokens=prompt_tokens,
            output_tokens=max(0, output_tokens),
            weight=max(1, weight),
            arrival_s=arrival,
            cached_tokens=max(0, min(cached_tokens, prompt_tokens)),
        )
        self._next_id += 1
        self._waiting.append(seq)
        # the queue only moves when something is released, so the only sequence this call
        # can admit is the new one, and it was admissible since its arrival
        self._schedule(start_s=arrival)
        return seq

    def complete_token(self, seq: Sequence) -> None:
        """Record that `seq` produced its token due at `seq.deadline_s`; set the next deadline."""
        if seq.state is not SeqState.RUNNING:
            raise ValueError(f"sequence {seq.seq_id} is {seq.state.value}, not running")
        now = self._clock()
        seq.generated += 1
        self._kv_used += seq.weight
        if seq.generated >= seq.output_tokens:
            self._release(seq)
            self.finished += 1
            seq.state = SeqState.FINISHED
            seq.deadline_s = math.inf
            self._schedule()
            return
        while self._kv_used > self._capacity.kv_cache_tokens and len(self._running) > 1:
            newest = next(reversed(self._running.values()))
            self._preempt(newest)
            if newest is seq:
                break
        if seq.state is SeqState.RUNNING:
            interval = self._scaled(
                self._timing.itl_base_s + self._timing.itl_per_running_seq_s * len(self._running)
            )
            seq.deadline_s = max(seq.deadline_s + interval, now)
        self._schedule()

    def abort(self, seq: Sequence) -> None:
        """Drop `seq` wherever it is (client went away, error); idempotent."""
        if seq.state is SeqState.RUNNING:
            self._release(seq)
        elif seq.state is SeqState.WAITING:
            with contextlib.suppress(ValueError):
                self._waiting.remove(seq)
        seq.state = SeqState.FINISHED
        seq.deadline_s = math.inf
        self._schedule()

    def _release(self, seq: Sequence) -> None:
        del self._running[seq.seq_id]
        self._kv_used -= seq.kv_tokens

    def _preempt(self, seq: Sequence) -> None:
        self._release(seq)
        seq.state = SeqState.WAITING
        seq.deadline_s = math.inf
        seq.num_preemptions += 1
        self._counters.preemptions += 1
        # vLLM puts preempted requests back at the head of the queue
        self._waiting.appendleft(seq)

    def _schedule(self, start_s: float | None = None) -> None:
        now = self._clock() if start_s is None else start_s
        while self._waiting and len(self._running) < self._capacity.max_num_seqs:
            head = self._waiting[0]
            fits = self._kv_used + head.kv_tokens <= self._capacity.kv_cache_tokens
            if not fits and self._running:
                break  # FIFO: the head blocks the queue, as in vLLM's scheduler
            self._waiting.popleft()
            self._running[head.seq_id] = head
            self._kv_used += head.kv_tokens
            head.state = SeqState.RUNNING
            head.admitted_s = now
            if head.first_admitted_s is None:
                head.first_admitted_s = now
            # after a preemption the generated tokens are recomputed with the prompt
            prefill_tokens = head.prompt_tokens + head.generated * head.weight - head.cached_tokens
            head.deadline_s = now + self._scaled(
                self._timing.prefill_base_s + self._timing.prefill_per_token_s * prefill_tokens
            )
            if head.output_tokens == 0:
                # nothing to generate: finish at once without holding a slot
                self._release(head)
                head.state = SeqState.FINISHED
            self._on_admit(head)

    def _scaled(self, seconds: float) -> float:
        factor = self._timing.slowdown * (1.0 + self._timing.degrade_per_request * self.finished)
        if self._timing.jitter > 0.0:
            factor *= 1.0 + self._rng.uniform(-self._timing.jitter, self._timing.jitter)
        return seconds * factor
