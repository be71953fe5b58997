"""Runs as resources without HTTP: cancel wherever the run is, a finished run's result or its
error, and a run's events followed from the database when another process ran it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from graphchat.errors import GraphchatError, ModelNotFound
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.service.runs import RunService, error_of
from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import (
    MessageStatus,
    NewMessage,
    NewRun,
    Run,
    RunEvent,
    RunOutcome,
    RunStatus,
    Tail,
    TurnRules,
)

RULES = TurnRules(model=lambda thread_model: "m", title=lambda title, _messages: title)
ELSEWHERE = "another-host:1234:abcd"
CALL = {"id": "c1", "name": "calculator", "arguments": {"expression": "1+1"}}


async def _begin(store: Store, worker_id: str = ELSEWHERE) -> tuple[Run, Tail]:
    """A running run with the user's message; the next sequence number after it."""
    run = NewRun(id="r1", owner="o", thread_id="t", model=None, params={}, worker_id=worker_id)
    start = await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], RULES)
    return start.run, start.tail


async def _finish(store: Store, outcome: RunOutcome, *replies: NewMessage) -> Run:
    run, tail = await _begin(store)
    await store.runs.finish("t", run.id, outcome, message_rows("t", run.id, list(replies), tail))
    return await store.runs.get("o", "t", run.id)


async def test_cancelling_a_paused_run_closes_it_and_answers_its_calls(store: Store) -> None:
    asked = NewMessage(id="a1", role="assistant", content="", tool_calls=[CALL])
    pending = {"message_id": "a1", "calls": [CALL]}
    paused = await _finish(store, RunOutcome(RunStatus.REQUIRES_ACTION, pending=pending), asked)

    cancelled = await RunService(store, LiveRuns()).cancel(paused, wait=False)

    assert cancelled.status == RunStatus.CANCELLED and cancelled.pending is None
    messages = await store.messages.of_run("r1")
    assert [(m.role, m.tool_call_id, m.status) for m in messages][-1] == (
        "tool",
        "c1",
        MessageStatus.ERROR,
    )


async def test_a_run_of_another_process_is_asked_to_cancel_through_the_database(
    store: Store,
) -> None:
    run, _ = await _begin(store)

    after = await RunService(store, LiveRuns()).cancel(run, wait=False)

    assert after.status == RunStatus.RUNNING  # the process that runs it closes it
    assert "r1" in await store.runs.heartbeat(ELSEWHERE)  # what that process reads


async def test_a_run_live_here_is_cancelled_in_this_process(store: Store) -> None:
    run, _ = await _begin(store, worker_id="here")
    live_runs = LiveRuns()
    stopped = asyncio.Event()

    async def execute(live: LiveRun) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    live_runs.start(LiveRun("r1", "t"), execute)
    await asyncio.sleep(0)  # the task is waiting

    await RunService(store, live_runs).cancel(run, wait=False)

    assert stopped.is_set()
    assert "r1" not in await store.runs.heartbeat("here")  # not asked through the database


async def test_the_result_of_a_run_splits_what_was_asked_from_what_was_answered(
    store: Store,
) -> None:
    done = await _finish(
        store, RunOutcome(RunStatus.SUCCESS), NewMessage(role="assistant", content="hello")
    )

    result = await RunService(store, LiveRuns()).result(done)

    assert [m.content for m in result.input_messages] == ["hi"]
    assert [m.content for m in result.output_messages] == ["hello"]


async def test_the_result_of_a_failed_run_raises_the_error_it_recorded(store: Store) -> None:
    error = {"code": "model_not_found", "message": "no model 'x'"}
    failed = await _finish(store, RunOutcome(RunStatus.ERROR, error=error))

    with pytest.raises(ModelNotFound, match="no model 'x'"):
        await RunService(store, LiveRuns()).result(failed)


async def test_an_unknown_error_code_is_kept_on_a_generic_error(store: Store) -> None:
    error = {"code": "disk_full", "message": "no space"}
    failed = await _finish(store, RunOutcome(RunStatus.ERROR, error=error))

    error = error_of(failed)

    assert type(error) is GraphchatError and (error.code, error.message) == (
        "disk_full",
        "no space",
    )


async def test_following_a_run_another_process_ran_reads_its_stored_events(store: Store) -> None:
    end = RunEvent("r1", 2, "end", {"status": "success"})
    events = [RunEvent("r1", 0, "metadata", {}), RunEvent("r1", 1, "token", {"text": "hi"}), end]
    run, _ = await _begin(store)
    await store.runs.finish("t", "r1", RunOutcome(RunStatus.SUCCESS), events=events)

    followed = [event async for event in RunService(store, LiveRuns()).follow(run, after=0)]

    assert [(e.seq, e.event) for e in followed] == [(1, "token"), (2, "end")]


async def test_following_a_run_whose_end_was_never_written_closes_the_stream(
    store: Store,
) -> None:
    run, _ = await _begin(store)
    await store.runs.interrupt("t", "r1", None)  # its process died before the end event

    followed = [event async for event in RunService(store, LiveRuns()).follow(run)]

    assert [(e.event, e.data["status"]) for e in followed] == [("end", "interrupted")]


async def test_following_an_ended_run_past_its_end_while_its_task_winds_down_closes(
    store: Store,
) -> None:
    """A client rejoining with the `end` event's id (or a later one) just after the run ended,
    while its task still winds down here: the stream ends, it does not wait forever."""
    run, _ = await _begin(store, worker_id="here")
    end = RunEvent("r1", 1, "end", {"status": "success"})
    await store.runs.finish("t", "r1", RunOutcome(RunStatus.SUCCESS), events=[end])
    live_runs = LiveRuns()
    winding_down = asyncio.Event()

    async def execute(live: LiveRun) -> None:
        live.publish("metadata", {})
        live.publish("end", {"status": "success"})
        await winding_down.wait()

    live_runs.start(LiveRun("r1", "t"), execute)
    await asyncio.sleep(0)  # the run has ended; its task has not
    service = RunService(store, live_runs)

    for after in (1, 7):
        followed = [e async for e in _within(service.follow(run, after=after), seconds=5)]
        assert [e.event for e in followed] == ["end"], after
        assert followed[0].data["status"] == "success"
    winding_down.set()


async def _within(events: AsyncIterator[RunEvent], seconds: float) -> AsyncIterator[RunEvent]:
    async with asyncio.timeout(seconds):
        async for event in events:
            yield event
