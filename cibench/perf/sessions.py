"""Multi-turn sessions on the asyncio backend: virtual users holding conversations.

Each conversation sends its turns one after another on the event loop. Turn k carries the
whole history (user turns 1..k and the server's answers 1..k-1, as they were streamed), so
its prompt grows by the previous answer and the new user turn. The next turn is due
`think_time_s` after the previous answer ended; its body is encoded before that moment, so
the encoding shows as lateness only when the think time is shorter than it.

When conversations start: closed loop, each worker of the schedule is one virtual user who
starts the next conversation as soon as its previous one ends; open loop, conversation i
starts at arrival offset i (the rate counts conversations), at most `cap` at once.

A turn's response is parsed as soon as it ends (its text is the next turn's history), not
after the phase like single requests: a few hundred microseconds per answer, on the loop.
A failed turn ends its conversation: the turns it never sent are recorded as failures
(`SessionAborted`), so the failure ratio counts every turn that was asked for.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from cibench.client.aconnection import AsyncPool
from cibench.client.record import RequestRecord
from cibench.client.stream import PreparedRequest
from cibench.perf.aloop import START_LEAD_NS, Slots, open_loop, sleep_until
from cibench.perf.phase import Phase, Progress, SessionScript

__all__ = ["run_sessions"]


def _aborted(
    script: SessionScript, conversation: int, turn: int, worker: int, why: str
) -> RequestRecord:
    now = time.perf_counter_ns()
    return RequestRecord(
        index=conversation * script.turns + turn,
        epoch=script.epoch,
        worker=worker,
        scheduled_ns=now,
        ready_ns=now,
        start_ns=now,
        end_ns=now,
        success=False,
        error_type="SessionAborted",
        error_message=why,
        conversation=conversation,
        turn=turn,
    )


async def _converse(
    script: SessionScript,
    index: int,
    worker: int,
    due_ns: int,
    ready_ns: int,
    pool: AsyncPool,
    progress: Progress,
    records: list[RequestRecord | None],
) -> int:
    """Hold conversation `index` from `due_ns` on; returns when its last turn ended."""
    conversation = script.conversations[index]
    think_ns = int(script.think_time_s * 1e9)
    history: list[dict[str, str]] = []
    end_ns = due_ns
    for turn in range(script.turns):
        history.append({"role": "user", "content": conversation.user_turns[turn]})
        output = conversation.output_tokens[turn]
        request = PreparedRequest(
            index=index * script.turns + turn,
            payload=script.encode(history, output),
            stream=script.stream,
            requested_output_tokens=output if script.exact_output else None,
            epoch=script.epoch,
            keep_text=True,
        )
        await sleep_until(due_ns)
        record = request.new_record(worker, due_ns, max(due_ns, ready_ns))
        record.conversation, record.turn = index, turn
        timer = await pool.send(request, record)
        timer.settle()  # the answer's text is the next turn's history
        records[request.index] = record
        progress.count(timer)
        end_ns = record.end_ns or time.perf_counter_ns()
        if not record.success:
            why = (
                f"turn {turn + 1} of conversation {index} failed ({record.error_type}); "
                "its later turns were not sent"
            )
            for later in range(turn + 1, script.turns):
                records[index * script.turns + later] = _aborted(script, index, later, worker, why)
                progress.done += 1
                progress.failed += 1
            return end_ns
        history.append({"role": "assistant", "content": timer.text})
        due_ns = ready_ns = end_ns + think_ns
    return end_ns


async def _closed_loop(
    script: SessionScript, phase: Phase, pool: AsyncPool, progress: Progress
) -> list[RequestRecord | None]:
    records: list[RequestRecord | None] = [None] * script.request_count
    counter = itertools.count()
    total = len(script.conversations)
    start_ns = phase.start_or(START_LEAD_NS)

    async def user(worker: int, offset_s: float) -> None:
        free = start_ns + int(offset_s * 1e9)
        while (index := next(counter)) < total:
            free = await _converse(script, index, worker, free, free, pool, progress, records)

    await asyncio.gather(*(user(w, off) for w, off in enumerate(phase.schedule.worker_offsets)))
    return records


async def _open_loop(
    script: SessionScript, phase: Phase, pool: AsyncPool, progress: Progress
) -> list[RequestRecord | None]:
    records: list[RequestRecord | None] = [None] * script.request_count
    slots = Slots(phase.schedule.cap)

    async def one(index: int, due: int, ready: int) -> None:
        ended = 0
        try:
            ended = await _converse(script, index, index, due, ready, pool, progress, records)
        finally:
            slots.release(ended or time.perf_counter_ns())

    await open_loop(phase.schedule.arrival_offsets, slots, one, phase.start_or(START_LEAD_NS))
    return records


async def run_sessions(
    phase: Phase, pool: AsyncPool, progress: Progress
) -> list[RequestRecord | None]:
    """Hold every conversation of a session phase; one record per turn, in
    (conversation, turn) order."""
    script = phase.sessions
    if script is None:
        raise ValueError(f"phase {phase.label!r} has no conversations")
    loop = _open_loop if phase.schedule.open_loop else _closed_loop
    return await loop(script, phase, pool, progress)
