"""The turn recorder: graph events become stored messages, and the run's events are stored
with its status in one transaction, exactly as clients saw them live."""

from __future__ import annotations

import asyncio

from graphchat.agent import ModelReply
from graphchat.llm.base import ChatMessage, Usage
from graphchat.service.event_writer import EventWriter
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.service.turn import Turn, TurnRecorder
from graphchat.service.turn_rules import title_from, turn_rules
from graphchat.store import Store
from graphchat.store.records import MessageStatus, NewMessage, NewRun, RunStatus
from support.db import sent_statements


async def _recorder(store: Store) -> tuple[Turn, TurnRecorder, EventWriter]:
    run = NewRun(id="r1", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    start = await store.runs.begin_turn(
        run, [NewMessage(role="user", content="hi")], turn_rules(None, "m")
    )
    live_runs = LiveRuns()
    writer = EventWriter(store.run_events, live_runs, interval_seconds=1, max_per_run=1000)
    live = LiveRun(run.id, "t")
    turn = Turn(start.thread, start.run, start.messages, live, tail=start.tail)
    recorder = TurnRecorder(turn, store.runs, writer)
    recorder.publish_metadata()
    return turn, recorder, writer


def _reply(text: str, *, last: bool = False) -> ModelReply:
    return ModelReply(
        message=ChatMessage(role="assistant", content=text),
        model="m",
        finish_reason="stop",
        usage=Usage(3, 2),
        latency_ms=1.0,
        last=last,
    )


async def _stored_events(store: Store) -> list[tuple[int, str]]:
    return [(e.seq, e.event) for e in await store.run_events.after("r1", -1)]


async def test_a_reply_is_stored_with_the_runs_status_and_every_event(store: Store) -> None:
    turn, recorder, _ = await _recorder(store)
    for piece in ("Hel", "lo"):
        recorder.token(piece)
    await recorder.event(_reply("Hello"))

    await recorder.succeed()

    messages = await store.messages.of_run("r1")
    assert [(m.role, m.content, m.seq) for m in messages] == [
        ("user", "hi", 1),
        ("assistant", "Hello", 2),
    ]
    run = await store.runs.get("o", "t", "r1")
    assert (run.status, run.model, run.prompt_tokens, run.completion_tokens) == (
        RunStatus.SUCCESS,
        "m",
        3,
        2,
    )
    live = [(e.seq, e.event) for e in turn.live.events]
    assert live == [(0, "metadata"), (1, "token"), (2, "token"), (3, "message"), (4, "end")]
    assert await _stored_events(store) == live
    assert turn.live.events[3].data["id"] == messages[1].id  # the token's message id


async def test_events_a_tick_wrote_are_not_written_again_at_the_end(store: Store) -> None:
    turn, recorder, writer = await _recorder(store)
    recorder.token("a")
    await writer.flush([turn.live])
    recorder.token("b")
    await recorder.event(_reply("ab"))

    await recorder.succeed()

    assert await _stored_events(store) == [(e.seq, e.event) for e in turn.live.events]


async def test_the_last_reply_stores_the_runs_end_before_the_graph_has_ended(
    store: Store,
) -> None:
    turn, recorder, _ = await _recorder(store)
    recorder.token("Hello")
    await recorder.event(_reply("Hello", last=True))

    final = await asyncio.wait_for(turn.live.wait(), 10)  # no `succeed` yet: the graph runs on

    assert final.event == "end"
    assert (await store.runs.get("o", "t", "r1")).status == RunStatus.SUCCESS
    with sent_statements(store.engine) as sent:
        await recorder.succeed()  # what the service calls once the graph has ended
    assert sent == []  # the end was stored once
    assert await _stored_events(store) == [(e.seq, e.event) for e in turn.live.events]


async def test_a_reply_followed_by_tools_leaves_the_run_running(store: Store) -> None:
    _, recorder, _ = await _recorder(store)
    await recorder.event(_reply("Let me look that up."))
    await asyncio.sleep(0.05)  # time for a write, had one been started

    assert (await store.runs.get("o", "t", "r1")).status == RunStatus.RUNNING


async def test_a_cancel_after_the_last_reply_keeps_the_answer(store: Store) -> None:
    turn, recorder, _ = await _recorder(store)
    recorder.token("Done.")
    await recorder.event(_reply("Done.", last=True))

    await recorder.cancel()  # while the end is on its way

    last = (await store.messages.of_run("r1"))[-1]
    assert (last.content, last.status) == ("Done.", MessageStatus.COMPLETE)
    assert (await store.runs.get("o", "t", "r1")).status == RunStatus.SUCCESS
    assert [e.event for e in turn.live.events].count("end") == 1


async def test_the_success_hook_runs_before_clients_see_the_end(store: Store) -> None:
    seen: list[tuple[str, list[str]]] = []
    turn, _, writer = await _recorder(store)
    recorder = TurnRecorder(
        turn,
        store.runs,
        writer,
        lambda done: seen.append(
            (done.live.events[-1].event, [m.content for m in done.output_messages])
        ),
    )
    await recorder.event(_reply("Hi there", last=True))
    await recorder.succeed()

    assert seen == [("message", ["Hi there"])]


async def test_a_cancelled_run_keeps_what_the_model_had_said(store: Store) -> None:
    turn, recorder, _ = await _recorder(store)
    recorder.token("half an")

    await recorder.cancel()

    last = (await store.messages.of_run("r1"))[-1]
    assert (last.content, last.status) == ("half an", MessageStatus.CANCELLED)
    assert (await store.runs.get("o", "t", "r1")).status == RunStatus.CANCELLED
    assert turn.live.events[-1].event == "end"


def test_the_title_is_the_start_of_the_first_message_on_one_line() -> None:
    assert title_from("  a\nlong   question ") == "a long question"
    assert len(title_from("x" * 500)) == 80
