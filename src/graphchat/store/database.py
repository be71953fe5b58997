"""Engine construction, connection settings per backend, and the translation of driver errors."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from graphchat.errors import StoreUnavailable, ValidationFailed
from graphchat.settings import DatabaseSettings

_WRITE_OPTION = "graphchat_write"
# PostgreSQL's text and jsonb refuse NUL characters (SQLite stores them): the value, not the
# database, is at fault. character_not_in_repertoire, untranslatable_character.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def create_engine(database: DatabaseSettings) -> AsyncEngine:
    """An async engine tuned for the configured backend (SQLite WAL or a PostgreSQL pool)."""
    if database.is_sqlite:
        return _sqlite_engine(database)
    return create_async_engine(
        database.url,
        pool_size=database.pool_size,
        max_overflow=database.max_overflow,
        pool_timeout=database.pool_timeout,
        pool_recycle=database.pool_recycle,
        pool_pre_ping=True,
        connect_args={"timeout": database.connect_timeout},
    )


def _sqlite_engine(database: DatabaseSettings) -> AsyncEngine:
    path = database.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        database.url,
        pool_size=database.pool_size,
        max_overflow=database.max_overflow,
        pool_timeout=database.pool_timeout,
        connect_args={"timeout": database.sqlite_busy_timeout_ms / 1000},
    )
    busy_timeout = database.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
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

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads then writes can fail at once with SQLITE_BUSY;
        # writers take the lock up front and wait their turn through busy_timeout instead.
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


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


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, write: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed on success; driver errors become ours."""
    try:
        async with (
            _writer_lock(engine) if write else contextlib.nullcontext(),
            engine.connect() as connection,
        ):
            if write:
                await connection.execution_options(**{_WRITE_OPTION: True})
            async with connection.begin():
                yield connection
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
