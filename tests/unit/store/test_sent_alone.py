"""A turn's statements skip SQLAlchemy's execution (store/sent_alone.py) and still answer, fail
and show themselves as SQLAlchemy's would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.util import await_only
from tests.support.db import statement_contexts, thread_row

from graphchat.errors import StoreUnavailable
from graphchat.store import Store
from graphchat.store.database import run_transaction, transaction
from graphchat.store.sent_alone import execute_alone, write_alone
from graphchat.store.tables import THREADS

_AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
_NEW_THREAD = insert(THREADS).returning(THREADS.c.id, THREADS.c.title)
_NEW_THREAD_DATED = insert(THREADS).returning(THREADS.c.created_at)
_NO_ROWS = insert(THREADS)
_SET_THREAD = update(THREADS).where(THREADS.c.id == bindparam("thread_id"))


def _thread(thread_id: str, title: str | None = "a title") -> dict[str, Any]:
    return thread_row(thread_id, _AT, title)


async def _alone(store: Store, statement: Any, values: dict[str, Any]) -> Any:
    return await run_transaction(
        store.engine, lambda c: execute_alone(c, statement, values), write=True, autocommit=True
    )


async def _written(store: Store, statement: Any, rows: list[dict[str, Any]]) -> int:
    return await run_transaction(
        store.engine, lambda c: write_alone(c, statement, rows), write=True, autocommit=True
    )


def _postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


async def _stored_threads(store: Store) -> list[tuple[Any, ...]]:
    async with transaction(store.engine) as connection:
        rows = await connection.execute(select(THREADS.c.id, THREADS.c.metadata, THREADS.c.title))
        return [tuple(row) for row in rows]


async def test_a_statement_sent_alone_returns_and_stores_what_sqlalchemy_would(
    store: Store,
) -> None:
    with statement_contexts(store.engine) as contexts:
        row = await _alone(store, _NEW_THREAD, _thread("t1"))
        empty = await _alone(store, _NO_ROWS, _thread("t2", title=None))

    assert row == {"id": "t1", "title": "a title"}
    assert empty is None
    # The bind processors ran: the metadata is JSON, not a Python repr.
    assert sorted(await _stored_threads(store)) == [
        ("t1", {"tools": ["clock"]}, "a title"),
        ("t2", {"tools": ["clock"]}, None),
    ]
    # Seen once each, and sent by the driver: PostgreSQL's autocommit, a SQLite file's engine.
    assert [context is None for context in contexts] == [True, True]


async def test_writes_sent_alone_count_their_rows_and_set_only_the_columns_given(
    store: Store,
) -> None:
    with statement_contexts(store.engine) as contexts:
        inserted = await _written(store, _NO_ROWS, [_thread("t1"), _thread("t2", title=None)])
        retitled = await _written(store, _SET_THREAD, [{"thread_id": "t1", "title": "new"}])
        remodelled = await _written(store, _SET_THREAD, [{"thread_id": "t2", "model": "m"}])
        missing = await _written(store, _SET_THREAD, [{"thread_id": "t3", "title": "none"}])

    assert (retitled, remodelled, missing) == (1, 1, 0)
    assert inserted == (-1 if _postgres(store) else 2)  # asyncpg does not count a batch
    async with transaction(store.engine) as connection:
        rows = await connection.execute(
            select(THREADS.c.id, THREADS.c.title, THREADS.c.model, THREADS.c.metadata)
        )
        stored = sorted(tuple(row) for row in rows)
    # Each UPDATE set only the column it was given: the other kept its value.
    assert stored == [
        ("t1", "new", None, {"tools": ["clock"]}),
        ("t2", None, "m", {"tools": ["clock"]}),
    ]
    assert [context is None for context in contexts] == [True] * 4


async def test_values_the_statement_gives_are_sent_with_each_row(store: Store) -> None:
    await _written(store, _NO_ROWS, [_thread("t1"), _thread("t2"), _thread("t3")])
    # The owner is the statement's own value, and so is the thread's id unless a row gives it.
    owned = update(THREADS).where(
        THREADS.c.id == bindparam("target", value="t2"), THREADS.c.owner == "o"
    )
    computed = bindparam("computed", callable_=lambda: "computed title")
    late = _SET_THREAD.values(title=computed)
    with statement_contexts(store.engine) as contexts:
        statements_own = await _written(store, owned, [{"title": "given"}])
        rows_own = await _written(store, owned, [{"title": "its own", "target": "t3"}])
        computed_title = await _written(store, late, [{"thread_id": "t1"}])

    assert (statements_own, rows_own, computed_title) == (1, 1, 1)
    assert sorted(row[::2] for row in await _stored_threads(store)) == [
        ("t1", "computed title"),
        ("t2", "given"),
        ("t3", "its own"),
    ]
    # A value computed at each execution is SQLAlchemy's to compute.
    assert [context is None for context in contexts] == [True, True, False]


async def test_in_a_transaction_sqlalchemy_sends_it(store: Store) -> None:
    with statement_contexts(store.engine) as contexts:
        async with transaction(store.engine, write=True) as connection:
            row = await connection.run_sync(execute_alone, _NEW_THREAD, _thread("t1"))

    assert row == {"id": "t1", "title": "a title"}
    assert len(contexts) == 1 and contexts[0] is not None


async def test_a_column_sqlalchemy_converts_is_returned_converted(store: Store) -> None:
    with statement_contexts(store.engine) as contexts:
        row = await _alone(store, _NEW_THREAD_DATED, _thread("t1"))

    assert row == {"created_at": _AT}
    assert len(contexts) == 1 and contexts[0] is not None  # SQLAlchemy's path


async def test_a_refused_statement_raises_sqlalchemys_error_and_is_sent_once(
    store: Store,
) -> None:
    await _alone(store, _NO_ROWS, _thread("t1"))

    with statement_contexts(store.engine) as contexts, pytest.raises(IntegrityError):
        await _alone(store, _NEW_THREAD, _thread("t1", title="again"))

    assert len(contexts) == 1
    assert await _stored_threads(store) == [("t1", {"tools": ["clock"]}, "a title")]


async def test_a_lost_connection_is_unavailable_and_leaves_the_pool(store: Store) -> None:
    if not _postgres(store):
        pytest.skip("a connection to lose is PostgreSQL's")
    url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(url)

    def lost_before_sending(connection: Connection) -> Any:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        await_only(admin.execute("SELECT pg_terminate_backend($1, 5000)", pid))
        return execute_alone(connection, _NEW_THREAD, _thread("t1"))

    try:
        with pytest.raises(StoreUnavailable) as failed:
            await run_transaction(store.engine, lost_before_sending, write=True, autocommit=True)
    finally:
        await admin.close()

    cause = failed.value.__cause__
    assert isinstance(cause, DBAPIError) and cause.connection_invalidated
    assert await _alone(store, _NEW_THREAD, _thread("t2")) == {"id": "t2", "title": "a title"}
    assert [row[0] for row in await _stored_threads(store)] == ["t2"]
