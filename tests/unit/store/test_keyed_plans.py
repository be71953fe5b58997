"""A turn's statements run with PostgreSQL's plan cache (store/database.py, `keyed`): after five
runs PostgreSQL may use one generic plan for every thread. That plan must find the rows by key
whatever the values: here each of them is planned generically on a skewed database (one thread
with thousands of runs and messages) and may not read a whole table."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Table
from tests.support.db import sent_statements
from tests.unit.store.test_runs_statements import RULES, new_run

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import NewMessage, RunEvent, RunOutcome, RunStatus, Tail
from graphchat.store.tables import MESSAGES, RUNS, THREADS

_TABLE_SCAN = re.compile(r"Seq Scan on (threads|runs|messages|run_events)\b")


def _copies(table: Table, changed: dict[str, str], thread: str = "thread_id = 't'") -> str:
    """Thread t's rows of `table` a thousand times over, with the `changed` columns' values."""
    names = [column.name for column in table.columns]
    values = ", ".join(changed.get(name, name) for name in names)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {values} "  # noqa: S608 (our names)
        f"FROM {table.name}, generate_series(1, 1000) g WHERE {thread}"
    )


# A run table and a message table dominated by one thread, among a thousand threads.
_SKEW = [
    _copies(THREADS, {"id": "'copy-' || g"}, thread="id = 't'"),
    _copies(
        RUNS, {"id": "gen_random_uuid()::text", "idempotency_key": "NULL", "status": "'success'"}
    ),
    _copies(MESSAGES, {"id": "gen_random_uuid()::text", "seq": "seq + 100 * g"}),
    "ANALYZE",
]


@pytest.fixture
def store(store: Store) -> Store:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("plans are PostgreSQL's")
    return store


async def _turn(store: Store, thread_id: str, run_id: str, outcome: RunOutcome) -> None:
    question = [NewMessage(role="user", content="what is six times seven?")]
    start = await store.runs.begin_turn(new_run(thread_id, run_id), question, RULES, history=50)
    call = NewMessage(role="assistant", content="", tool_calls=[{"id": "c"}])
    result = NewMessage(role="tool", content="42", tool_call_id="c")
    stored = await store.runs.append(thread_id, run_id, [call, result], start.tail)
    answer = [NewMessage(role="assistant", content="42")]
    reply = message_rows(thread_id, run_id, answer, Tail(stored[-1].seq, stored[-1].id))
    events = [RunEvent(run_id, seq, "token", {"text": "4"}) for seq in range(3)]
    await store.runs.finish(thread_id, run_id, outcome, reply, events)
    await store.run_events.append([RunEvent(run_id, 3, "token", {"text": "2"})])


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    elif not isinstance(value, str):
        value = json.dumps(value)
    return "'" + value.replace("'", "''") + "'"


async def _generic_plan(connection: asyncpg.Connection, statement: str, parameters: Any) -> str:
    await connection.execute(f"PREPARE keyed AS {statement}")
    try:
        arguments = ", ".join(_literal(value) for value in parameters)
        rows = await connection.fetch(f"EXPLAIN EXECUTE keyed({arguments})")
        return "\n".join(row[0] for row in rows)
    finally:
        await connection.execute("DEALLOCATE keyed")


async def test_a_turns_statements_have_generic_plans_that_find_rows_by_key(
    store: Store, database_url: str
) -> None:
    success = RunOutcome(RunStatus.SUCCESS, 1, 1)
    for number in range(3):
        await _turn(store, "t", f"r{number}", success)
    await _turn(store, "p", "p1", RunOutcome(RunStatus.REQUIRES_ACTION, pending={"calls": []}))
    admin = await asyncpg.connect(database_url)
    try:
        for statement in _SKEW:
            await admin.execute(statement)
        fresh = await Store.open(Settings(database_url=database_url).database)
        try:  # no kept window: the window is read; "p" has a paused run to close
            with sent_statements(fresh.engine) as statements:
                await _turn(fresh, "t", "r9", success)
                await _turn(fresh, "p", "p2", success)
                await _turn(fresh, "n", "n1", success)
                await _turn(fresh, "t", "r10", success)  # kept: one statement (known_turn.py)
        finally:
            await fresh.close()
        await admin.execute("SET plan_cache_mode = force_generic_plan")
        plans = [await _generic_plan(admin, s.statement, s.parameters) for s in statements]
    finally:
        await admin.close()

    assert len(plans) >= 10
    assert [s for s in statements if s.statement.startswith("WITH touched")] != []  # r10's begin
    scans = [(s.statement, plan) for s, plan in zip(statements, plans, strict=True)]
    assert [pair for pair in scans if _TABLE_SCAN.search(pair[1])] == []
