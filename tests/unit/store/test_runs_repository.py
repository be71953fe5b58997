"""The runs repository stores a turn's begin and finish as given: the rules come from the caller."""

from __future__ import annotations

import pytest

from graphchat.errors import DuplicateRun, LeafMoved, NotFound, ThreadBusy
from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import (
    NewMessage,
    NewRun,
    RunEvent,
    RunOutcome,
    RunStatus,
    Tail,
    TurnRules,
)

RULES = TurnRules(
    model=lambda thread_model: thread_model or "fallback",
    title=lambda title, messages: title or f"about {messages[0].content}",
)


def _run(run_id: str, thread_id: str = "t", owner: str = "o", key: str | None = None) -> NewRun:
    return NewRun(
        id=run_id,
        owner=owner,
        thread_id=thread_id,
        model=None,
        params={},
        worker_id="w",
        idempotency_key=key,
    )


def _says(*texts: str) -> list[NewMessage]:
    return [NewMessage(role="user", content=text) for text in texts]


async def _finish(store: Store, run_id: str, after: Tail, thread_id: str = "t") -> None:
    reply = message_rows(thread_id, run_id, [NewMessage(role="assistant", content="ok")], after)
    await store.runs.finish(thread_id, run_id, RunOutcome(RunStatus.SUCCESS), reply)


async def test_a_new_thread_takes_the_callers_title_and_model_rule(store: Store) -> None:
    start = await store.runs.begin_turn(_run("r1"), _says("hello"), RULES, history=10)

    assert (start.thread.title, start.run.model) == ("about hello", "fallback")
    assert [(m.seq, m.content) for m in start.messages] == [(1, "hello")]
    assert (await store.threads.get("o", "t")).title == "about hello"


async def test_the_window_ends_with_the_new_messages_and_keeps_its_limit(store: Store) -> None:
    first = await store.runs.begin_turn(_run("r1"), _says("a", "b"), RULES, history=3)
    await _finish(store, "r1", first.tail)

    start = await store.runs.begin_turn(_run("r2"), _says("c", "d"), RULES, history=3)

    assert [m.content for m in start.history] == ["ok", "c", "d"]
    assert [m.seq for m in start.messages] == [4, 5]
    assert start.thread.title == "about a"  # kept: the rule returns the current title


async def test_a_second_turn_while_one_runs_is_refused(store: Store) -> None:
    await store.runs.begin_turn(_run("r1"), _says("a"), RULES)

    with pytest.raises(ThreadBusy):
        await store.runs.begin_turn(_run("r2"), _says("b"), RULES)
    assert [r.id for r in (await store.runs.page("t", limit=10)).items] == ["r1"]


async def test_messages_that_must_follow_a_stale_one_are_refused(store: Store) -> None:
    first = await store.runs.begin_turn(_run("r1"), _says("a"), RULES)
    await _finish(store, "r1", first.tail)

    with pytest.raises(ThreadBusy):
        await store.runs.begin_turn(_run("r2"), _says("b"), RULES, last_seq=1)
    start = await store.runs.begin_turn(_run("r3"), _says("b"), RULES, last_seq=2)
    assert [m.seq for m in start.messages] == [3]


async def test_a_turn_at_a_leaf_that_moved_is_refused_with_nothing_stored(
    store: Store, replica: Store
) -> None:
    first = await store.runs.begin_turn(_run("r1"), _says("a"), RULES, history=5)
    await _finish(store, "r1", first.tail)
    kept = store.runs.kept_leaf("o", "t")
    other = await replica.runs.begin_turn(_run("r2"), _says("b"), RULES, history=5)
    await _finish(replica, "r2", other.tail)

    with pytest.raises(LeafMoved):
        await store.runs.begin_turn(_run("r3"), _says("c"), RULES, leaf_at=kept, history=5)
    moved = await store.runs.begin_turn(_run("r4"), _says("d"), RULES, leaf_at=4, history=5)

    assert kept == 2 and store.runs.kept_leaf("someone else", "t") is None
    assert [m.content for m in moved.history] == ["a", "ok", "b", "ok", "d"]
    assert "r3" not in [r.id for r in (await store.runs.page("t", limit=10)).items]


async def test_another_owners_thread_is_not_found(store: Store) -> None:
    await store.runs.begin_turn(_run("r1"), _says("a"), RULES)

    with pytest.raises(NotFound):
        await store.runs.begin_turn(_run("r2", owner="other"), _says("b"), RULES)
    with pytest.raises(NotFound):
        await store.runs.begin_turn(_run("r3", "missing"), _says("b"), RULES, create_thread=False)


async def test_a_reused_idempotency_key_names_the_first_run(store: Store) -> None:
    first = await store.runs.begin_turn(_run("r1", key="k"), _says("a"), RULES)
    await _finish(store, "r1", first.tail)

    with pytest.raises(DuplicateRun) as duplicate:
        await store.runs.begin_turn(_run("r2", "t2", key="k"), _says("a"), RULES)
    assert duplicate.value.run_id == "r1"


async def test_finishing_a_run_of_a_deleted_thread_stores_nothing(store: Store) -> None:
    start = await store.runs.begin_turn(_run("r1"), _says("a"), RULES)
    await store.threads.delete("o", "t")

    reply = message_rows("t", "r1", _says("late"), start.tail)
    assert not await store.runs.finish("t", "r1", RunOutcome(RunStatus.SUCCESS), reply)


async def test_events_written_in_batches_are_read_back_one_by_one(store: Store) -> None:
    await store.runs.begin_turn(_run("r1"), _says("a"), RULES)
    await store.run_events.append([RunEvent("r1", n, "token", {"text": str(n)}) for n in range(3)])
    await store.run_events.append([RunEvent("r1", 3, "end", {})])

    after = await store.run_events.after("r1", 1)

    assert [(e.seq, e.event, e.data) for e in after] == [
        (2, "token", {"text": "2"}),
        (3, "end", {}),
    ]
    assert await store.run_events.next_seq("r1") == 4


async def test_the_heartbeat_marks_this_workers_running_runs_and_names_those_asked_to_cancel(
    store: Store,
) -> None:
    async def begin(run_id: str, worker_id: str) -> Tail:
        run = NewRun(
            id=run_id, owner="o", thread_id=run_id, model=None, params={}, worker_id=worker_id
        )
        return (await store.runs.begin_turn(run, _says("hi"), RULES)).tail

    await begin("asked", "w")
    await begin("quiet", "w")
    await _finish(store, "done", await begin("done", "w"), thread_id="done")
    await begin("elsewhere", "x")
    for run_id in ("asked", "elsewhere"):
        assert await store.runs.request_cancel(run_id)
    before = {run_id: heartbeat for run_id, _, _, heartbeat in await store.runs.running()}

    assert await store.runs.heartbeat("w") == ["asked"]

    after = {run_id: heartbeat for run_id, _, _, heartbeat in await store.runs.running()}
    assert set(after) == {"asked", "quiet", "elsewhere"}  # the finished run is not running
    assert after["elsewhere"] == before["elsewhere"]  # another worker's run: not touched
    for run_id in ("asked", "quiet"):  # begun with a heartbeat, marked alive again since
        assert before[run_id] is not None and after[run_id] is not None
        assert after[run_id] > before[run_id]
