"""PostgreSQL's one-statement writes awaited on asyncpg's connection (store/awaited.py) answer,
fail and show themselves as the same statement sent alone through `run_transaction` does."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from tests.support.db import statement_contexts, thread_row

from graphchat.errors import StoreUnavailable
from graphchat.store import Store
from graphchat.store.awaited import send_alone
from graphchat.store.database import transaction
from graphchat.store.tables import THREADS

_AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
_NEW_THREAD = insert(THREADS).returning(THREADS.c.id, THREADS.c.title)
_NEW_THREAD_DATED = insert(THREADS).returning(THREADS.c.created_at)
_NO_ROWS = insert(THREADS)


@pytest.fixture(autouse=True)
def _postgres_only(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writes run on its file's own engines (store/sqlite_file.py)")


def _thread(thread_id: str, title: str | None = "a title") -> dict[str, Any]:
    return thread_row(thread_id, _AT, title)


async def _stored_threads(store: Store) -> list[tuple[Any, ...]]:
    async with transaction(store.engine) as connection:
        rows = await connection.execute(select(THREADS.c.id, THREADS.c.metadata, THREADS.c.title))
        return [tuple(row) for row in rows]


async def test_a_statement_returns_and_stores_what_sqlalchemy_would(store: Store) -> None:
    with statement_contexts(store.engine) as contexts:
        row = await send_alone(store.engine, _NEW_THREAD, _thread("t1"))
        nothing = await send_alone(store.engine, _NO_ROWS, _thread("t2", title=None))

    assert row == {"id": "t1", "title": "a title"}
    assert nothing is None
    assert contexts == [None, None]  # seen by listeners, sent by the driver
    assert await _stored_threads(store) == [
        ("t1", {"tools": ["clock"]}, "a title"),
        ("t2", {"tools": ["clock"]}, None),
    ]


async def test_a_column_sqlalchemy_converts_goes_through_sqlalchemy(store: Store) -> None:
    with statement_contexts(store.engine) as contexts:
        row = await send_alone(store.engine, _NEW_THREAD_DATED, _thread("t1"))

    assert row == {"created_at": _AT}
    assert len(contexts) == 1 and contexts[0] is not None


async def test_a_refused_statement_raises_sqlalchemys_error_and_stores_nothing(
    store: Store,
) -> None:
    await send_alone(store.engine, _NO_ROWS, _thread("t1"))

    with pytest.raises(IntegrityError):
        await send_alone(store.engine, _NEW_THREAD, _thread("t1", title="again"))

    assert await _stored_threads(store) == [("t1", {"tools": ["clock"]}, "a title")]
    # The connection went back to the pool usable.
    assert await send_alone(store.engine, _NEW_THREAD, _thread("t2")) == {
        "id": "t2",
        "title": "a title",
    }


async def test_a_connection_lost_as_the_statement_leaves_is_unavailable_and_replaced(
    store: Store,
) -> None:
    url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def terminate(pid: int) -> None:
        async def go() -> None:
            admin = await asyncpg.connect(url)
            try:
                await admin.execute("SELECT pg_terminate_backend($1, 5000)", pid)
            finally:
                await admin.close()

        # From another thread: the listener runs on the event loop, between the statement's
        # planning and its sending, and must not give the loop a turn.
        worker = threading.Thread(target=asyncio.run, args=(go(),))
        worker.start()
        worker.join()

    lost: list[int] = []

    def lose_once(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if not lost and statement.startswith("INSERT INTO threads"):
            lost.append(connection.connection.driver_connection.get_server_pid())
            terminate(lost[0])

    event.listen(store.engine.sync_engine, "before_cursor_execute", lose_once)
    try:
        with pytest.raises(StoreUnavailable) as failed:
            await send_alone(store.engine, _NEW_THREAD, _thread("t1"))
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", lose_once)

    cause = failed.value.__cause__
    assert isinstance(cause, DBAPIError) and cause.connection_invalidated
    assert await send_alone(store.engine, _NEW_THREAD, _thread("t2")) == {
        "id": "t2",
        "title": "a title",
    }
    assert [row[0] for row in await _stored_threads(store)] == ["t2"]


async def test_a_statement_cancelled_in_flight_leaves_no_busy_connection_in_the_pool(
    store: Store,
) -> None:
    # One connection, so the next statement is given the cancelled one's (asyncpg has the
    # server cancel the statement, and waits for that before the next).
    engine = create_async_engine(store.engine.url, pool_size=1, max_overflow=0)
    try:
        slow = asyncio.create_task(send_alone(engine, text("SELECT pg_sleep(5) AS slept"), {}))
        await asyncio.sleep(0.3)  # sent, and waiting for PostgreSQL
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow

        row = await asyncio.wait_for(send_alone(engine, _NEW_THREAD, _thread("t1")), 3)
    finally:
        await engine.dispose()

    assert row == {"id": "t1", "title": "a title"}
