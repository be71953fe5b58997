"""The statements of a turn are counted, so that round trips cannot creep back (issue 14).

On SQLite begin and finish are one transaction each; every statement is one round trip
(multi-row INSERTs, no read-back of what was just written). On PostgreSQL their writes are one
statement each and no statement waits for a BEGIN or a COMMIT.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tests.support.statements import (
    APPEND,
    BEGIN_EXISTING_THREAD,
    BEGIN_KNOWN_THREAD,
    BEGIN_NEW_THREAD,
    FINISH,
    POSTGRES_APPEND,
    POSTGRES_BEGIN_EXISTING_THREAD,
    POSTGRES_BEGIN_KNOWN_THREAD,
    POSTGRES_BEGIN_NAMED_HERE,
    POSTGRES_BEGIN_NEW_THREAD,
    POSTGRES_FINISH,
    recorded,
)

from graphchat.errors import DuplicateRun, NotFound, ThreadBusy
from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import (
    NewMessage,
    NewRun,
    NewThread,
    RunEvent,
    RunOutcome,
    RunStatus,
    Tail,
    TurnRules,
    TurnStart,
)

RULES = TurnRules(model=lambda thread_model: thread_model or "m", title=lambda title, _: title)


def new_run(thread_id: str, run_id: str, owner: str = "o") -> NewRun:
    return NewRun(id=run_id, owner=owner, thread_id=thread_id, model=None, params={}, worker_id="w")


async def _turn(
    store: Store, thread_id: str, run_id: str, *, new_thread_id: bool = False
) -> list[str]:
    """Begin and finish one turn; returns the statements of begin and then of finish."""
    with recorded(store) as begin:
        start = await store.runs.begin_turn(
            new_run(thread_id, run_id),
            [NewMessage(role="user", content="hi"), NewMessage(role="user", content="again")],
            RULES,
            history=50,
            new_thread_id=new_thread_id,
        )
    reply = message_rows(
        thread_id, run_id, [NewMessage(role="assistant", content="yes")], start.tail
    )
    events = [RunEvent(run_id, seq, "token", {"text": "y"}) for seq in range(40)]
    with recorded(store) as finish:
        stored = await store.runs.finish(
            thread_id, run_id, RunOutcome(RunStatus.SUCCESS, 1, 1), reply, events
        )
    assert stored
    return begin + finish


def _alone(plan: list[str]) -> list[str]:
    return [statement + " (alone)" for statement in plan]


async def test_a_turn_on_a_new_thread_issues_the_planned_statements(store: Store) -> None:
    if store.engine.dialect.name == "postgresql":
        planned = _alone(POSTGRES_BEGIN_NEW_THREAD + POSTGRES_FINISH)
    else:
        planned = BEGIN_NEW_THREAD + FINISH

    assert await _turn(store, "t-new", "r1") == planned


async def test_a_turn_on_a_thread_named_for_it_reads_nothing_first(store: Store) -> None:
    if store.engine.dialect.name == "postgresql":
        planned = _alone(POSTGRES_BEGIN_NAMED_HERE + POSTGRES_FINISH)
    else:
        planned = BEGIN_NEW_THREAD[1:] + FINISH

    assert await _turn(store, "t-named-here", "r1", new_thread_id=True) == planned
    thread = await store.threads.get("o", "t-named-here")
    stored = await store.messages.recent(thread.id, 10)
    assert [m.content for m in stored] == ["hi", "again", "yes"]


async def test_a_thread_id_made_for_a_turn_that_is_taken_stores_nothing(store: Store) -> None:
    await _turn(store, "t-taken", "r1")

    with pytest.raises(ThreadBusy):
        await _turn(store, "t-taken", "r2", new_thread_id=True)

    assert [m.run_id for m in await store.messages.recent("t-taken", 10)] == ["r1", "r1", "r1"]
    assert await store.runs.by_id("r2") is None


def _existing_thread_plan(store: Store) -> list[str]:
    if store.engine.dialect.name == "postgresql":
        return _alone(POSTGRES_BEGIN_EXISTING_THREAD + POSTGRES_FINISH)
    return BEGIN_EXISTING_THREAD + FINISH


async def test_a_turn_after_another_replicas_turn_reads_the_window(
    store: Store, replica: Store
) -> None:
    await _turn(replica, "t", "r1")

    assert await _turn(store, "t", "r2") == _existing_thread_plan(store)


async def test_a_turn_after_this_processs_turn_takes_the_window_it_kept(store: Store) -> None:
    await _turn(store, "t", "r1")

    if store.engine.dialect.name == "postgresql":
        planned = _alone(POSTGRES_BEGIN_KNOWN_THREAD + POSTGRES_FINISH)
    else:
        planned = BEGIN_KNOWN_THREAD + FINISH
    assert await _turn(store, "t", "r2") == planned
    stored = await store.messages.recent("t", 10)
    assert [(m.seq, m.run_id, m.content) for m in stored] == [
        (1, "r1", "hi"),
        (2, "r1", "again"),
        (3, "r1", "yes"),
        (4, "r2", "hi"),
        (5, "r2", "again"),
        (6, "r2", "yes"),
    ]
    assert [m.parent_id for m in stored[1:]] == [m.id for m in stored[:-1]]


async def test_a_runs_tool_messages_issue_the_planned_statements(store: Store) -> None:
    question = [NewMessage(role="user", content="hi")]
    start = await store.runs.begin_turn(new_run("t", "r1"), question, RULES, history=50)
    call = NewMessage(role="assistant", content="", tool_calls=[{"id": "c"}])
    result = NewMessage(role="tool", content="42", tool_call_id="c")
    planned = _alone(POSTGRES_APPEND) if store.engine.dialect.name == "postgresql" else APPEND

    with recorded(store) as seen:
        stored = await store.runs.append("t", "r1", [call, result], start.tail)

    assert seen == planned
    assert [m.content for m in await store.messages.recent("t", 5)] == ["hi", "", "42"]
    assert [m.parent_id for m in stored] == [start.tail.leaf_id, stored[0].id]


async def test_every_message_of_a_turn_carries_its_runs_owner(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no owner on messages")
    await store.threads.create(NewThread(id="owned", owner="alice"))
    start = await store.runs.begin_turn(
        new_run("owned", "r1", owner="alice"), [NewMessage(role="user", content="hi")], RULES
    )
    call = NewMessage(role="assistant", content="", tool_calls=[{"id": "c"}])
    result = NewMessage(role="tool", content="42", tool_call_id="c")
    called = await store.runs.append("owned", "r1", [call, result], start.tail)  # the trigger's
    answer = [NewMessage(role="assistant", content="yes")]
    reply = message_rows("owned", "r1", answer, Tail(called[-1].seq, called[-1].id))
    assert await store.runs.finish("owned", "r1", RunOutcome(RunStatus.SUCCESS, 1, 1), reply)

    async with store.engine.connect() as connection:
        found = await connection.execute(
            text("SELECT role, owner FROM messages WHERE thread_id = 'owned' ORDER BY seq")
        )
        owners = [tuple(row) for row in found]

    assert owners == [
        ("user", "alice"),
        ("assistant", "alice"),
        ("tool", "alice"),
        ("assistant", "alice"),
    ]


# A thread this process answered last, changed since by someone else: on PostgreSQL the guarded
# statement writes nothing, then begin reads and writes as it would have without it. Each test
# below fails when the guard it is about is left out of store/known_turn.py.


def _postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


def _missed(store: Store, *, window_read: bool) -> list[str]:
    """Begin's plan when this process kept the thread but the database holds it otherwise."""
    if not _postgres(store):
        reading = [s for s in BEGIN_EXISTING_THREAD if window_read or s != "WITH branch"]
        return BEGIN_KNOWN_THREAD[:1] + reading  # the guarded UPDATE, which updated nothing
    reading = [s for s in POSTGRES_BEGIN_EXISTING_THREAD if window_read or s != "WITH branch"]
    return _alone(POSTGRES_BEGIN_KNOWN_THREAD + reading)


async def _begin(
    store: Store, thread_id: str, run_id: str, owner: str = "o", **options: Any
) -> tuple[TurnStart, list[str]]:
    """Begin a turn asking `run_id` (history 50 unless given); returns it and its statements."""
    question = [NewMessage(role="user", content=run_id)]
    options.setdefault("history", 50)
    with recorded(store) as seen:
        start = await store.runs.begin_turn(
            new_run(thread_id, run_id, owner), question, RULES, **options
        )
    return start, seen


async def _answered(store: Store, thread_id: str, run_id: str, ids: tuple[str, str]) -> None:
    """A turn asking `run_id` and answering it, its two messages with the ids `ids`."""
    question = [NewMessage(role="user", content=run_id, id=ids[0])]
    start = await store.runs.begin_turn(new_run(thread_id, run_id), question, RULES, history=50)
    answer = [NewMessage(role="assistant", content=f"answer {run_id}", id=ids[1])]
    reply = message_rows(thread_id, run_id, answer, start.tail)
    assert await store.runs.finish(thread_id, run_id, RunOutcome(RunStatus.SUCCESS), reply)


async def test_after_another_replicas_turn_a_kept_thread_is_read_again(
    store: Store, replica: Store
) -> None:
    await _turn(store, "t", "r1")
    await _turn(replica, "t", "r2")

    start, seen = await _begin(store, "t", "r3")

    assert seen == _missed(store, window_read=True)
    assert [m.run_id for m in start.history] == ["r1"] * 3 + ["r2"] * 3 + ["r3"]
    assert start.history == await store.messages.recent("t", 50)


async def test_after_a_branch_switch_a_turn_continues_the_branch_switched_to(store: Store) -> None:
    await _turn(store, "t", "r1")
    await _turn(store, "t", "r2")
    first_answer = await store.messages.at("t", 3)
    assert first_answer is not None
    await store.branches.switch("o", "t", first_answer.id, descend=False)

    start, seen = await _begin(store, "t", "r3")

    assert seen == _missed(store, window_read=False)  # the window ending there is kept
    assert [m.run_id for m in start.history] == ["r1"] * 3 + ["r3"]
    assert (start.messages[0].seq, start.messages[0].parent_id) == (7, first_answer.id)
    assert start.history == await store.messages.recent("t", 50)


async def test_at_the_kept_leaf_again_after_another_replicas_turn_a_turn_follows_the_last_message(
    store: Store, replica: Store
) -> None:
    await _turn(store, "t", "r1")
    await _turn(replica, "t", "r2")
    answer = await store.messages.at("t", 3)
    assert answer is not None
    await replica.branches.switch("o", "t", answer.id, descend=False)  # where this process left it

    start, seen = await _begin(store, "t", "r3")

    assert seen == _missed(store, window_read=False)
    assert (start.messages[0].seq, start.messages[0].parent_id) == (7, answer.id)
    assert start.history == await store.messages.recent("t", 50)


@pytest.mark.parametrize(
    "changes",
    [{"title": "renamed"}, {"model": "chosen"}, {"metadata": {"tools": "none"}}],
    ids=["title", "model", "metadata"],
)
async def test_after_a_change_of_the_thread_a_turn_applies_its_rules_to_the_stored_thread(
    store: Store, changes: dict[str, Any]
) -> None:
    await _turn(store, "t", "r1")
    await store.threads.update("o", "t", changes)

    start, seen = await _begin(store, "t", "r2")

    assert seen == _missed(store, window_read=False)
    stored = await store.threads.get("o", "t")
    kept = (changes.get("title"), changes.get("model"), changes.get("metadata", {}))
    assert (stored.title, stored.model, stored.metadata) == kept
    assert replace(start.thread, updated_at=stored.updated_at) == stored
    assert (await store.runs.get("o", "t", "r2")).model == (stored.model or "m")


async def test_a_thread_with_metadata_as_kept_begins_its_next_turn_from_what_was_kept(
    store: Store,
) -> None:
    """The guard compares metadata as stored: JSON text on SQLite, whatever it holds."""
    await _turn(store, "t", "r1")
    metadata = {"tools": ["calculator", "clock"], "note": "café ☕", "limits": {"rounds": 2}}
    await store.threads.update("o", "t", {"metadata": metadata})
    await _turn(store, "t", "r2")  # reads the thread as changed, and keeps it so

    start, seen = await _begin(store, "t", "r3")

    assert seen == (_alone(POSTGRES_BEGIN_KNOWN_THREAD) if _postgres(store) else BEGIN_KNOWN_THREAD)
    assert start.thread.metadata == metadata


async def test_after_a_paused_run_a_turn_closes_it_first(store: Store) -> None:
    start, _ = await _begin(store, "t", "r1")
    call = NewMessage(role="assistant", content="", tool_calls=[{"id": "c", "name": "f"}])
    pause = RunOutcome(RunStatus.REQUIRES_ACTION, pending={"calls": [{"id": "c", "name": "f"}]})
    assert await store.runs.finish("t", "r1", pause, message_rows("t", "r1", [call], start.tail))

    begun, seen = await _begin(store, "t", "r2")

    if _postgres(store):
        assert seen[:2] == _alone([*POSTGRES_BEGIN_KNOWN_THREAD, "SELECT threads"])
    assert (await store.runs.get("o", "t", "r1")).status == RunStatus.CANCELLED
    assert [(m.run_id, m.role) for m in begun.history] == [
        ("r1", "user"),
        ("r1", "assistant"),
        ("r1", "tool"),  # the call answered "not run"
        ("r2", "user"),
    ]
    assert begun.history == await store.messages.recent("t", 50)


async def test_after_the_thread_was_deleted_and_created_again_a_turn_reads_it_again(
    store: Store, replica: Store
) -> None:
    await _answered(store, "t", "r1", ("q1", "a1"))
    await replica.threads.delete("o", "t")
    await replica.threads.create(NewThread(id="t", owner="o"))
    await _answered(replica, "t", "r2", ("q1", "a1"))  # the same leaf, other texts

    start, seen = await _begin(store, "t", "r3")

    assert seen == _missed(store, window_read=True)
    assert [m.content for m in start.history] == ["r2", "answer r2", "r3"]
    assert start.history == await store.messages.recent("t", 50)


async def test_another_owners_turn_on_a_kept_thread_is_refused_and_stores_nothing(
    store: Store,
) -> None:
    await _turn(store, "t", "r1")

    with pytest.raises(NotFound):
        await _begin(store, "t", "r2", owner="x")

    assert [run.id for run in (await store.runs.page("t", limit=5)).items] == ["r1"]
    assert len(await store.messages.recent("t", 50)) == 3


async def test_a_turn_on_a_kept_thread_that_is_answering_is_refused_as_busy(store: Store) -> None:
    await _turn(store, "t", "r1")
    running, _ = await _begin(store, "t", "r2")

    with recorded(store) as seen, pytest.raises(ThreadBusy):
        await store.runs.begin_turn(
            new_run("t", "r3"), [NewMessage(role="user", content="r3")], RULES, history=50
        )

    if _postgres(store):
        assert seen == _alone(POSTGRES_BEGIN_KNOWN_THREAD)  # refused by the unique index
    assert await store.messages.recent("t", 50) == running.history
    assert (await store.runs.active("t")) == running.run


async def test_a_reused_idempotency_key_on_a_kept_thread_names_the_first_run(store: Store) -> None:
    keyed = replace(new_run("t", "r1"), idempotency_key="k")
    first = await store.runs.begin_turn(keyed, [NewMessage(role="user", content="a")], RULES)
    answer = message_rows("t", "r1", [NewMessage(role="assistant", content="b")], first.tail)
    assert await store.runs.finish("t", "r1", RunOutcome(RunStatus.SUCCESS), answer)

    again = replace(keyed, id="r2")
    with recorded(store) as seen, pytest.raises(DuplicateRun) as duplicate:
        await store.runs.begin_turn(again, [NewMessage(role="user", content="a")], RULES)

    assert duplicate.value.run_id == "r1"
    if _postgres(store):
        assert seen[:1] == _alone(POSTGRES_BEGIN_KNOWN_THREAD)
    assert [m.content for m in await store.messages.recent("t", 50)] == ["a", "b"]


async def test_a_turn_that_does_not_follow_the_given_message_is_refused(store: Store) -> None:
    await _turn(store, "t", "r1")

    with pytest.raises(ThreadBusy):
        await _begin(store, "t", "r2", last_seq=2)
    start, seen = await _begin(store, "t", "r3", last_seq=3)

    if _postgres(store):
        assert seen == _alone(POSTGRES_BEGIN_KNOWN_THREAD)
    assert [m.run_id for m in start.history] == ["r1"] * 3 + ["r3"]


async def test_turns_without_history_on_a_kept_thread_begin_in_one_statement(store: Store) -> None:
    await _answered(store, "t", "r1", ("q1", "a1"))

    start, seen = await _begin(store, "t", "r2", history=0)
    answer = message_rows("t", "r2", [NewMessage(role="assistant", content="a")], start.tail)
    assert await store.runs.finish("t", "r2", RunOutcome(RunStatus.SUCCESS), answer)
    after, seen_after = await _begin(store, "t", "r3", history=0)

    if _postgres(store):
        assert seen == seen_after == _alone(POSTGRES_BEGIN_KNOWN_THREAD)
    assert (start.history, start.messages[0].parent_id, start.messages[0].seq) == ([], "a1", 3)
    assert (after.messages[0].parent_id, after.messages[0].seq) == (answer[0].id, 5)
    stored = await store.messages.recent("t", 50)
    assert [m.run_id for m in stored] == ["r1", "r1", "r2", "r2", "r3"]


# docs/performance.md (from bench/analysis.md) tells these plans in a table: step, SQLite's
# statements, PostgreSQL's statements and round trips.
_DOC_ROWS = {
    "begin, existing thread": (
        [BEGIN_KNOWN_THREAD, BEGIN_EXISTING_THREAD],
        [POSTGRES_BEGIN_KNOWN_THREAD, POSTGRES_BEGIN_EXISTING_THREAD],
    ),
    "begin, new thread": (
        [BEGIN_NEW_THREAD],
        [POSTGRES_BEGIN_NAMED_HERE, POSTGRES_BEGIN_NEW_THREAD],
    ),
    "finish": ([FINISH], [POSTGRES_FINISH]),
    "a tool round (the run's call and its result)": ([APPEND], [POSTGRES_APPEND]),
}


def _named(cell: str) -> list[str]:
    """The statements a cell names, reads and writes (its `code` spans that are statements)."""
    spans = re.findall(r"`([^`]+)`", cell)
    return [span for span in spans if re.match(r"(SELECT|INSERT|UPDATE) \w+", span)]


def _round_trips(plans: list[list[str]]) -> str:
    """Round trips as the table states them, the fewest to the most of a step's plans: the
    window read only after another replica's turn; a transaction's BEGIN and COMMIT count. (A
    plan marks its statements "(alone)" only where some are sent in a transaction; the others
    are sent `_alone`.)"""
    counts = []
    for plan in plans:
        in_transaction = any(statement.endswith("(alone)") for statement in plan)
        trips = len(plan) + (2 if in_transaction else 0)
        counts += [trips - 1, trips] if "WITH branch" in plan else [trips]
    fewest, most = min(counts), max(counts)
    return str(fewest) if fewest == most else f"{fewest}–{most}"


def test_the_performance_doc_names_these_plans() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs/performance.md").read_text("utf-8")
    rows = {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in line.strip("| ").split("|")] for line in doc.splitlines())
        if cells[0] in _DOC_ROWS
    }

    assert rows.keys() == _DOC_ROWS.keys()
    for step, (sqlite_plans, postgres_plans) in _DOC_ROWS.items():
        sqlite_cell, postgres_cell = rows[step]
        counted = [s for plan in sqlite_plans for s in plan if s != "WITH branch"]
        assert [s for s in _named(sqlite_cell) if s != "SELECT messages"] == counted, step
        postgres = [s for plan in postgres_plans for s in plan if s != "WITH branch"]
        assert _named(postgres_cell) == [s.removesuffix(" (alone)") for s in postgres], step
        stated = re.search(r": ([\d–]+) \(was", postgres_cell)
        assert stated is not None and stated.group(1) == _round_trips(postgres_plans), step
