"""The statements of a turn are counted, so that round trips cannot creep back (issue 14).

Begin and finish are one transaction each; every statement is one round trip (multi-row
INSERTs, no read-back of what was just written).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import statement_engines
from graphchat.store.messages import message_rows
from graphchat.store.records import NewMessage, NewRun, RunEvent, RunOutcome, RunStatus, TurnRules

# The plans: (verb, table) per statement, in order.
BEGIN_EXISTING_THREAD = [
    ("SELECT", "threads"),  # the thread (its leaf), a paused run to close?, its last seq number
    ("WITH", "branch"),  # the context window: a walk up the branch from the leaf, whole rows
    ("INSERT", "runs"),
    ("INSERT", "messages"),  # every new message in one statement
    ("UPDATE", "threads"),  # updated_at, the leaf (and the title of an untitled thread)
]
BEGIN_NEW_THREAD = [
    ("SELECT", "threads"),
    ("INSERT", "threads"),  # created with its title and leaf: nothing to update
    ("INSERT", "runs"),
    ("INSERT", "messages"),
]
FINISH = [
    ("UPDATE", "threads"),  # touched, leaf moved; 0 rows means deleted meanwhile
    ("INSERT", "messages"),  # the reply (and any last tool messages)
    ("UPDATE", "runs"),  # status and usage
    ("INSERT", "run_events"),  # the run's unwritten events, one row per run
]
RULES = TurnRules(model=lambda thread_model: thread_model or "m", title=lambda title, _: title)
_VERB = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH RECURSIVE)\s", re.IGNORECASE)
_TABLE = re.compile(r"(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(Settings(database_url=database_url).database)
    yield opened
    await opened.close()


@contextmanager
def recorded(store: Store) -> Iterator[list[tuple[str, str]]]:
    """(verb, table) of each statement sent to the database; BEGIN/COMMIT are not counted."""
    seen: list[tuple[str, str]] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = _VERB.match(statement)
        if verb is not None:
            tables = _TABLE.findall(statement)  # the outer FROM comes after any subquery's
            seen.append((verb.group(1).split()[0].upper(), tables[-1] if tables else "?"))
        elif not statement.strip().upper().startswith(("BEGIN", "COMMIT")):
            seen.append((statement.split()[0].upper(), "?"))

    engines = statement_engines(store.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)


def _run(thread_id: str, run_id: str) -> NewRun:
    return NewRun(id=run_id, owner="o", thread_id=thread_id, model=None, params={}, worker_id="w")


async def _turn(store: Store, thread_id: str, run_id: str) -> list[tuple[str, str]]:
    """Begin and finish one turn; returns the statements of begin and then of finish."""
    with recorded(store) as begin:
        start = await store.runs.begin_turn(
            _run(thread_id, run_id),
            [NewMessage(role="user", content="hi"), NewMessage(role="user", content="again")],
            RULES,
            history=50,
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


async def test_a_turn_on_a_new_thread_issues_the_planned_statements(store: Store) -> None:
    assert await _turn(store, "t-new", "r1") == BEGIN_NEW_THREAD + FINISH


async def test_a_turn_on_an_existing_thread_issues_the_planned_statements(store: Store) -> None:
    await _turn(store, "t", "r1")

    assert await _turn(store, "t", "r2") == BEGIN_EXISTING_THREAD + FINISH
