"""Engine construction, connection settings per backend, and the translation of driver errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from graphchat.errors import StoreUnavailable, ValidationFailed
from graphchat.settings import DatabaseSettings

_WRITE_OPTION = "graphchat_write"
# A deferred transaction that reads then writes can fail at once with SQLITE_BUSY; writers
# take the lock up front and wait their turn through busy_timeout instead. By `write`:
_SQLITE_BEGIN = {True: "BEGIN IMMEDIATE", False: "BEGIN"}
# PostgreSQL's text and jsonb refuse NUL characters (SQLite stores them): the value, not the
# database, is at fault. character_not_in_repertoire, untranslatable_character.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()
# SQLite file engines get a synchronous twin on the same file: a transaction body runs there in
# one worker-thread call, where aiosqlite would hop threads 3-4 times per statement.
_SYNC_TWINS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
T = TypeVar("T")


def create_engine(database: DatabaseSettings) -> AsyncEngine:
    """An async engine tuned for the configured backend (SQLite WAL or a PostgreSQL pool)."""
    if database.is_sqlite:
        return _sqlite_engine(database)
    engine = create_async_engine(
        database.url,
        pool_size=database.pool_size,
        max_overflow=database.max_overflow,
        pool_timeout=database.pool_timeout,
        pool_recycle=database.pool_recycle,
        json_deserializer=_json_loads,
        connect_args={
            "timeout": database.connect_timeout,
            # asyncpg prepares every statement; after five runs PostgreSQL may switch it to a
            # generic plan, estimated for an average thread. On a thread of 100,000 messages
            # that plan filtered the whole thread for one page (a page of siblings: 0.5 ms
            # planned for its values, 400 ms generic). Planned for the values, every time.
            "server_settings": {"plan_cache_mode": "force_custom_plan"},
        },
    )
    event.listen(engine.sync_engine, "checkout", _discard_closed)
    return engine


def _json_loads(text: str) -> Any:
    """`json.loads`, answering the text of a stored None without running the parser."""
    # A None in a JSON column is stored as JSON null (every message without tool calls):
    # json.loads took ~1.5 us to say None, 50 times per context window.
    return None if text == "null" else json.loads(text)


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server closed (a restart) is replaced at checkout.

    asyncpg notices a closed socket without a round trip; SQLAlchemy's pre-ping cost three
    (BEGIN, a query, ROLLBACK) per transaction. A connection lost silently still fails once
    as `StoreUnavailable`, and that failure recycles the pool."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection")


def _sqlite_engine(database: DatabaseSettings) -> AsyncEngine:
    path = database.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    pool = {
        "pool_size": database.pool_size,
        "max_overflow": database.max_overflow,
        "pool_timeout": database.pool_timeout,
        "connect_args": {"timeout": database.sqlite_busy_timeout_ms / 1000},
        "json_deserializer": _json_loads,
    }
    engine = create_async_engine(database.url, **pool)
    _prepare_sqlite(engine.sync_engine, database.sqlite_busy_timeout_ms)
    _listen_for_begin(engine.sync_engine)
    if path is not None:
        twin = create_sync_engine(engine.url.set(drivername="sqlite"), **pool)
        _prepare_sqlite(twin, database.sqlite_busy_timeout_ms)
        _SYNC_TWINS[engine.sync_engine] = twin
    return engine


def _prepare_sqlite(engine: Engine, busy_timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writers can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={busy_timeout}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def _listen_for_begin(engine: Engine) -> None:
    """The async engine's transactions BEGIN as their `_WRITE_OPTION` says."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql(_SQLITE_BEGIN[write])


def sync_twin(engine: AsyncEngine) -> Engine | None:
    """The synchronous engine on the same SQLite file, if `engine` has one."""
    return _SYNC_TWINS.get(engine.sync_engine)


async def dispose(engine: AsyncEngine) -> None:
    twin = _SYNC_TWINS.pop(engine.sync_engine, None)
    if twin is not None:
        twin.dispose()
    await engine.dispose()


def _writer_lock(engine: AsyncEngine) -> contextlib.AbstractAsyncContextManager[object]:
    """SQLite has one writer at a time, and a waiting writer polls with growing sleeps (1, 2,
    5… 100 ms). Writers of this process queue on an asyncio lock instead, so SQLite's own
    waiting is left to writers of other processes."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lock = _WRITER_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITER_LOCKS[engine.sync_engine] = asyncio.Lock()
    return lock


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Driver errors become ours (integrity errors stay: callers map them to conflicts)."""
    try:
        yield
    except IntegrityError:
        raise
    except (OperationalError, InterfaceError, PoolTimeoutError, OSError) as exc:
        raise StoreUnavailable("the database is unavailable; try again shortly") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable("the database connection was lost; try again") from exc
        if getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT:
            raise ValidationFailed(
                "the text contains a character the database cannot store (NUL, \\u0000)",
                code="invalid_text",
            ) from exc
        raise


@asynccontextmanager
async def _connection(engine: AsyncEngine, write: bool) -> AsyncIterator[AsyncConnection]:
    """A connection for one transaction (a writer's, queued behind this process's writers)."""
    with _translated():
        async with (
            _writer_lock(engine) if write else contextlib.nullcontext(),
            engine.connect() as connection,
        ):
            if write and engine.dialect.name == "sqlite":  # only SQLite's BEGIN reads it
                await connection.execution_options(**{_WRITE_OPTION: True})
            yield connection


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, write: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed on success; driver errors become ours."""
    async with _connection(engine, write) as connection, connection.begin():
        yield connection


async def run_transaction(
    engine: AsyncEngine, body: Callable[[Connection], T], *, write: bool = False
) -> T:
    """`body(connection)` in one transaction, committed on success; driver errors become ours.

    On a SQLite file the whole body runs in one worker-thread call on the synchronous twin;
    elsewhere begin, body and commit run in one greenlet, statements through the async driver.
    """
    twin = sync_twin(engine)
    if twin is None:
        async with _connection(engine, write) as connection:
            return await connection.run_sync(_in_transaction, body)
    with _translated():
        async with _writer_lock(engine) if write else contextlib.nullcontext():
            return await asyncio.to_thread(_run_on, twin, body, write)


def _in_transaction(connection: Connection, body: Callable[[Connection], T]) -> T:
    # One greenlet switch where begin and commit through the async API took one each.
    with connection.begin():
        return body(connection)


def _run_on(engine: Engine, body: Callable[[Connection], T], write: bool) -> T:
    # The twin has no begin listener: the BEGIN is sent here, without setting an option per
    # transaction first (that cost a third of an empty transaction).
    with engine.connect() as connection, connection.begin():
        connection.exec_driver_sql(_SQLITE_BEGIN[write])
        return body(connection)
