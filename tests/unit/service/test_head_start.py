"""`HeadStart`, the store's write hook: a turn announced is prepared at the event loop's next
step (on PostgreSQL, once begin's statement has left), or at once when it is claimed or awaited;
a turn dropped before then is never prepared."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import event

from graphchat.agent import BeforeStored
from graphchat.service.head_start import HeadStart, PreparedRun
from graphchat.store import Store
from graphchat.store.records import NewMessage, NewRun, TurnRules, TurnStart
from support.db import statement_engines

RULES = TurnRules(model=lambda thread_model: thread_model or "m", title=lambda title, _: title)
_numbers = itertools.count()


class _Runs:
    """HeadStart's `prepare` and `run_graph`: each call logged in `log`, in order."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.prepared: list[TurnStart] = []

    def prepare(self, start: TurnStart) -> PreparedRun:
        self.log.append("prepared")
        self.prepared.append(start)
        turn = SimpleNamespace(run=start.run, thread=start.thread)
        return PreparedRun(turn=cast(Any, turn), recorder=cast(Any, None), setup=cast(Any, None))

    async def run_graph(self, turn: Any, recorder: Any, setup: Any, early: BeforeStored) -> None:
        self.log.append("graph")


def _head_start(log: list[str]) -> tuple[HeadStart, _Runs]:
    runs = _Runs(log)
    return HeadStart(runs.prepare, runs.run_graph, may_ask_ahead=True), runs


async def _begin(store: Store, hook: HeadStart | None = None) -> TurnStart:
    number = next(_numbers)
    run = NewRun(
        id=f"r{number}", owner="o", thread_id=f"t{number}", model=None, params={}, worker_id="w"
    )
    question = [NewMessage(role="user", content=f"question {number}")]
    return await store.runs.begin_turn(
        run, question, RULES, history=4, on_write=hook, new_thread_id=True
    )


async def _finished(prepared: PreparedRun | None) -> PreparedRun:
    assert prepared is not None and prepared.graph is not None
    await prepared.graph
    return prepared


async def test_begins_statement_leaves_before_the_run_is_prepared_on_postgresql_after_on_sqlite(
    store: Store,
) -> None:
    log: list[str] = []
    head_start, runs = _head_start(log)

    def sent(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "insert into runs" in " ".join(statement.lower().split()):
            log.append("begin sent")

    engines = statement_engines(store.engine)  # SQLite's writes have an engine of their own
    for engine in engines:
        event.listen(engine, "before_cursor_execute", sent)
    try:
        start = await _begin(store, head_start)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", sent)
    prepared = await _finished(head_start.claim(start))

    assert runs.prepared == [start] and prepared.turn.run is start.run
    if store.engine.dialect.name == "postgresql":  # the round trip starts first
        assert log == ["begin sent", "prepared", "graph"]
    else:  # SQLite writes once the graph waits (its `until_waiting`)
        assert log == ["prepared", "graph", "begin sent"]


async def test_a_turn_announced_is_prepared_at_the_next_step_once(store: Store) -> None:
    log: list[str] = []
    head_start, runs = _head_start(log)
    start = await _begin(store)

    head_start(start, True)
    assert runs.prepared == []  # not in the hook: begin's statement leaves first
    await asyncio.sleep(0)
    assert runs.prepared == [start]

    await _finished(head_start.claim(start))
    assert runs.prepared == [start]


async def test_a_turn_claimed_before_the_next_step_is_prepared_at_once_and_once(
    store: Store,
) -> None:
    log: list[str] = []
    head_start, runs = _head_start(log)
    start = await _begin(store)

    head_start(start, True)
    prepared = await _finished(head_start.claim(start))
    await asyncio.sleep(0)

    assert prepared.turn.run is start.run
    assert runs.prepared == [start]


async def test_a_turn_dropped_before_the_next_step_is_never_prepared(store: Store) -> None:
    log: list[str] = []
    head_start, runs = _head_start(log)
    start = await _begin(store)

    head_start(start, True)
    head_start.drop()
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    assert runs.prepared == []
    assert head_start.claim(start) is None
