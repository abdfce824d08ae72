"""The batching/timing model, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from cibench.sim.engine import Capacity, Engine, SeqState, Sequence, TimingModel
from tests.support.clock import FakeClock

MS = 1e-3


def make_engine(
    clock: FakeClock,
    *,
    max_num_seqs: int = 256,
    kv: int = 1_000_000,
    prefill_base: float = 10 * MS,
    prefill_per_token: float = 0.0,
    itl_base: float = 5 * MS,
    itl_per_seq: float = 0.0,
    jitter: float = 0.0,
    slowdown: float = 1.0,
    seed: int = 0,
    admitted: list[Sequence] | None = None,
) -> Engine:
    timing = TimingModel(prefill_base, prefill_per_token, itl_base, itl_per_seq, jitter, slowdown)
    sink = admitted if admitted is not None else []
    return Engine(timing, Capacity(max_num_seqs, kv), clock, random.Random(seed), sink.append)


def run_until_done(
    engine: Engine, clock: FakeClock, seqs: list[Sequence]
) -> dict[int, list[float]]:
    """Discrete-event loop: complete the earliest due token until every sequence finished."""
    emitted: dict[int, list[float]] = {s.seq_id: [] for s in seqs}
    while not all(s.done for s in seqs):
        running = [s for s in seqs if s.state is SeqState.RUNNING]
        assert running, "deadlock: sequences left but none running"
        nxt = min(running, key=lambda s: s.deadline_s)
        clock.advance_to(nxt.deadline_s)
        engine.complete_token(nxt)
        emitted[nxt.seq_id].append(clock.now_s)
    return emitted


def test_first_token_due_after_prefill_proportional_to_prompt() -> None:
    clock = FakeClock(1.0)
    engine = make_engine(clock, prefill_base=5 * MS, prefill_per_token=0.1 * MS)
    seq = engine.submit(prompt_tokens=200, output_tokens=3)
    assert seq.state is SeqState.RUNNING
    assert seq.deadline_s == pytest.approx(1.0 + 5 * MS + 200 * 0.1 * MS)


def test_prefill_starts_at_arrival_not_at_submit() -> None:
    clock = FakeClock(2.0)
    engine = make_engine(clock, prefill_base=50 * MS)
    seq = engine.submit(10, 3, arrival_s=1.999)
    assert seq.deadline_s == pytest.approx(1.999 + 50 * MS)


def test_inter_token_time_grows_with_running_sequences() -> None:
    clock = FakeClock()
    engine = make_engine(clock, prefill_base=0.0, itl_base=2 * MS, itl_per_seq=1 * MS)
    seqs = [engine.submit(1, 5) for _ in range(4)]
    first = seqs[0]
    clock.advance_to(first.deadline_s)
    engine.complete_token(first)
    # 4 running: 2 ms + 4 * 1 ms after the previous deadline
    assert first.deadline_s == pytest.approx(0.0 + 6 * MS)


def test_deadlines_are_absolute_so_small_lateness_does_not_accumulate() -> None:
    clock = FakeClock()
    engine = make_engine(clock, prefill_base=10 * MS, itl_base=10 * MS)
    seq = engine.submit(1, 5)
    expected = 10 * MS
    for _ in range(4):
        assert seq.deadline_s == pytest.approx(expected)
        clock.advance_to(seq.deadline_s + 0.7 * MS)  # every wake-up is late
        engine.complete_token(seq)
        expected += 10 * MS
    assert seq.deadline_s == pytest.approx(50 * MS)


def test_a_sequence_far_behind_restarts_from_now_instead_of_bursting() -> None:
    clock = FakeClock()
    engine = make_engine(clock, prefill_base=0.0, itl_base=10 * MS)
    seq = engine.submit(1, 5)
    clock.advance_to(0.5)  # half a second late
    engine.complete_token(seq)
    assert seq.deadline_s == pytest.approx(0.5)
    engine.complete_token(seq)
    assert seq.deadline_s == pytest.approx(0.51)


def test_max_num_seqs_queues_the_rest_fifo() -> None:
    clock = FakeClock()
    admitted: list[Sequence] = []
    engine = make_engine(clock, max_num_seqs=2, admitted=admitted)
    a, b, c, d = (engine.submit(1, 2) for _ in range(4))
    assert (engine.num_running, engine.num_waiting) == (2, 2)
    assert admitted == [a, b]
    run_until_done(engine, clock, [a, b, c, d])
    assert admitted == [a, b, c, d]
    # c waited for a's last token, then paid its own prefill
    assert c.first_admitted_s == pytest.approx(10 * MS + 5 * MS)


def test_queue_wait_adds_to_first_token_time() -> None:
    clock = FakeClock()
    engine = make_engine(clock, max_num_seqs=1, prefill_base=10 * MS, itl_base=5 * MS)
    a = engine.submit(1, 3)
    b = engine.submit(1, 3)
    emitted = run_until_done(engine, clock, [a, b])
    assert emitted[a.seq_id] == pytest.approx([0.010, 0.015, 0.020])
    # b is admitted when a's last token is done (20 ms), then prefills 10 ms
    assert emitted[b.seq_id] == pytest.approx([0.030, 0.035, 0.040])


def test_kv_budget_blocks_admission_until_tokens_are_freed() -> None:
    clock = FakeClock()
    engine = make_engine(clock, kv=150)
    a = engine.submit(100, 2)
    b = engine.submit(100, 2)
    assert a.state is SeqState.RUNNING
    assert b.state is SeqState.WAITING
    assert engine.kv_usage == pytest.approx(100 / 150)
    run_until_done(engine, clock, [a, b])
    assert b.first_admitted_s is not None
    assert a.done


def test_kv_overflow_during_decode_preempts_newest_and_recomputes() -> None:
    clock = FakeClock()
    engine = make_engine(clock, kv=100, prefill_base=1 * MS, prefill_per_token=0.01 * MS)
    a = engine.submit(45, 20)
    b = engine.submit(45, 20)
    assert engine.num_running == 2
    emitted = run_until_done(engine, clock, [a, b])
    assert engine.num_preemptions >= 1
    assert b.num_preemptions >= 1
    assert a.num_preemptions == 0
    assert len(emitted[a.seq_id]) == 20
    assert len(emitted[b.seq_id]) == 20
    assert engine.num_running == 0
    assert engine.kv_usage == 0


def test_preempted_sequence_returns_to_head_of_queue() -> None:
    clock = FakeClock()
    engine = make_engine(clock, kv=100, max_num_seqs=2)
    a = engine.submit(45, 30)
    b = engine.submit(45, 30)
    c = engine.submit(5, 1)  # queued behind the two-slot batch
    while b.num_preemptions == 0:
        nxt = min((a, b), key=lambda s: s.deadline_s)
        clock.advance_to(nxt.deadline_s)
        engine.complete_token(nxt)
    assert b.state is SeqState.WAITING
    # a slot is free and c's 5 tokens would fit, but b is at the head and blocks the queue
    assert c.state is SeqState.WAITING
    run_until_done(engine, clock, [a, b, c])
    assert b.admitted_s is not None
    assert c.first_admitted_s is not None
    assert b.admitted_s <= c.first_admitted_s


def test_abort_frees_slot_and_admits_next() -> None:
    clock = FakeClock()
    engine = make_engine(clock, max_num_seqs=1)
    a = engine.submit(1, 100)
    b = engine.submit(1, 100)
    engine.abort(a)
    engine.abort(a)  # idempotent
    assert a.done
    assert b.state is SeqState.RUNNING
    engine.abort(b)
    assert (engine.num_running, engine.num_waiting, engine.kv_usage) == (0, 0, 0)


def test_slowdown_multiplies_every_interval() -> None:
    clock = FakeClock()
    engine = make_engine(clock, prefill_base=10 * MS, itl_base=5 * MS, slowdown=3.0)
    seq = engine.submit(1, 3)
    assert seq.deadline_s == pytest.approx(30 * MS)
    clock.advance_to(seq.deadline_s)
    engine.complete_token(seq)
    assert seq.deadline_s == pytest.approx(45 * MS)


def test_jitter_is_bounded_and_seeded() -> None:
    def deadlines(seed: int) -> list[float]:
        clock = FakeClock()
        engine = make_engine(clock, prefill_base=10 * MS, itl_base=10 * MS, jitter=0.2, seed=seed)
        seq = engine.submit(1, 50)
        return next(iter(run_until_done(engine, clock, [seq]).values()))

    first = deadlines(7)
    assert first == deadlines(7)
    assert first != deadlines(8)
    gaps = [b - a for a, b in itertools.pairwise(first)]
    assert all(8 * MS - 1e-9 <= g <= 12 * MS + 1e-9 for g in gaps)
    assert len(set(gaps)) > 10


def test_complete_token_rejects_a_waiting_sequence() -> None:
    clock = FakeClock()
    engine = make_engine(clock, max_num_seqs=1)
    engine.submit(1, 2)
    waiting = engine.submit(1, 2)
    with pytest.raises(ValueError, match="is waiting, not running"):
        engine.complete_token(waiting)
    assert waiting.deadline_s == math.inf


def test_zero_output_sequence_finishes_without_holding_a_slot() -> None:
    clock = FakeClock()
    engine = make_engine(clock, max_num_seqs=1)
    seq = engine.submit(10, 0)
    assert seq.done
    assert engine.num_running == 0
