"""`begin_turn(on_write=...)`: the hook gets the turn before its write is sent, and begin returns
that very turn once the write has landed (`service/head_start.py` starts the run's graph on it
meanwhile). On PostgreSQL every turn is announced; SQLite writes on the event loop's thread, so
it announces only a turn planned before its write that should land (a new thread, or a kept one
while such writes land), and writes once the hook's `until_waiting` has returned."""

from __future__ import annotations

import concurrent.futures
import itertools

import pytest

from graphchat.errors import ThreadBusy
from graphchat.store import Store
from graphchat.store.records import NewMessage, NewRun, RunOutcome, RunStatus, TurnRules, TurnStart
from graphchat.store.turn_writes import WriteHook
from graphchat.store.window_cache import LANDED_IN_A_ROW
from support.db import query

RULES = TurnRules(model=lambda thread_model: thread_model or "m", title=lambda title, _: title)
_numbers = itertools.count()


def _stored_runs(database_url: str, thread_id: str) -> list[str]:
    """The thread's runs, read on another connection from another thread (the hook is sync)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        rows = pool.submit(
            query, database_url, "SELECT id FROM runs WHERE thread_id = :t", t=thread_id
        ).result()
    return sorted(row["id"] for row in rows)


class _Hook:
    """Records each announced turn with the runs stored when it was announced."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.calls: list[tuple[TurnStart, list[str]]] = []
        self.likely: list[bool] = []
        self.waited: list[bool] = []  # whether the announced run was stored when awaited

    def __call__(self, start: TurnStart, likely: bool) -> None:
        self.calls.append((start, _stored_runs(self.database_url, start.thread.id)))
        self.likely.append(likely)

    async def until_waiting(self) -> None:
        announced = self.calls[-1][0]
        self.waited.append(announced.run.id in _stored_runs(self.database_url, announced.thread.id))


async def _turn(
    store: Store, thread_id: str, hook: WriteHook | None = None, *, new_thread_id: bool = False
) -> TurnStart:
    number = next(_numbers)
    run = NewRun(
        id=f"r{number}", owner="o", thread_id=thread_id, model=None, params={}, worker_id="w"
    )
    question = [NewMessage(role="user", content=f"question {number}")]
    start = await store.runs.begin_turn(
        run, question, RULES, history=4, on_write=hook, new_thread_id=new_thread_id
    )
    outcome = RunOutcome(RunStatus.SUCCESS, 1, 1)
    assert await store.runs.finish(thread_id, run.id, outcome, [])
    return start


def _postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


async def test_the_hook_gets_the_turn_before_its_write_and_begin_returns_it(
    store: Store, database_url: str
) -> None:
    hook = _Hook(database_url)
    new = await _turn(store, "t", hook)  # a new thread: read, then written
    known = await _turn(store, "t", hook)  # this store wrote it last: written at once

    if not _postgres(store):
        assert hook.calls == []
        return
    assert [start for start, _ in hook.calls] == [new, known]
    assert hook.calls[0][0] is new and hook.calls[1][0] is known
    assert [runs for _, runs in hook.calls] == [[], [new.run.id]]  # neither written yet
    assert _stored_runs(database_url, "t") == sorted([new.run.id, known.run.id])


async def test_a_write_that_misses_announces_the_turn_written_instead(
    store: Store, replica: Store, database_url: str
) -> None:
    await _turn(store, "t")
    moved = await _turn(replica, "t")  # another replica's turn: what `store` keeps is stale
    hook = _Hook(database_url)

    begun = await _turn(store, "t", hook)

    if not _postgres(store):
        assert hook.calls == []
        return
    stale, written = (start for start, _ in hook.calls)
    assert written is begun
    assert stale is not begun and stale.tail.seq < begun.tail.seq
    assert begun.history[-2] == moved.messages[0]  # the window has the replica's turn


async def test_the_store_expects_a_kept_write_to_land_only_while_such_writes_land(
    store: Store, replica: Store, database_url: str
) -> None:
    hook = _Hook(database_url)
    await _turn(store, "t", hook)  # a new thread
    for _ in range(LANDED_IN_A_ROW + 1):  # kept: expected once as many have landed in a row
        await _turn(store, "t", hook)
    await _turn(replica, "t")
    await _turn(store, "t", hook)  # kept, but stale: expected, missed, then read and written
    await _turn(store, "t", hook)  # kept and current, but after a miss

    if not _postgres(store):  # only what should land: the first kept write after 20, the stale
        assert hook.likely == [True, True]
        assert hook.waited == [False, False]  # the store awaited the hook, then wrote
        return
    kept = [False] * LANDED_IN_A_ROW + [True]
    assert hook.likely == [True, *kept, True, False, False]


async def test_a_kept_write_refused_counts_as_a_miss(store: Store, database_url: str) -> None:
    for _ in range(LANDED_IN_A_ROW + 1):
        await _turn(store, "t")
    busy = NewRun(id="busy", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    await store.runs.begin_turn(busy, [NewMessage(role="user", content="a")], RULES, history=4)
    hook = _Hook(database_url)

    with pytest.raises(ThreadBusy):  # the running run's unique index
        await _turn(store, "t", hook)
    assert await store.runs.finish("t", "busy", RunOutcome(RunStatus.SUCCESS, 1, 1), [])
    await _turn(store, "t", hook)

    assert hook.likely == ([True, False] if _postgres(store) else [True])


async def test_a_thread_whose_id_begin_made_is_announced_before_its_write_on_both(
    store: Store, database_url: str
) -> None:
    hook = _Hook(database_url)

    new = await _turn(store, "made-here", hook, new_thread_id=True)

    assert hook.calls == [(new, [])] and hook.calls[0][0] is new
    assert hook.likely == [True]
    assert hook.waited == ([] if _postgres(store) else [False])  # SQLite waited, then wrote
    assert _stored_runs(database_url, "made-here") == [new.run.id]
