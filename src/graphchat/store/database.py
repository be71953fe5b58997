"""Engine construction, connection settings per backend, and transactions (driver errors
translated by store/driver_errors.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

from graphchat.json_text import dumps_text
from graphchat.settings import DatabaseSettings
from graphchat.store.driver_errors import translated
from graphchat.store.sqlite_file import SQLITE_BEGIN, SQLiteFile, prepare, run_on

_WRITE_OPTION = "graphchat_write"
_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()
# SQLite file engines get synchronous engines on the same file (store/sqlite_file.py).
_SQLITE_FILES: weakref.WeakKeyDictionary[Engine, SQLiteFile] = weakref.WeakKeyDictionary()
T = TypeVar("T")
# asyncpg prepares every statement; after five runs PostgreSQL may switch it to a generic plan,
# estimated for an average thread. On a thread of 100,000 messages that plan filtered the whole
# thread for one page (a page of siblings: 0.5 ms planned for its values, 400 ms generic). So a
# transaction plans each statement for its values. A turn's own statements find their rows by
# key, where one plan fits every thread, and planning them each time cost ~0.4 ms of
# PostgreSQL's CPU per turn: those run `keyed`, with PostgreSQL's default (plans reused). The
# mode is the session's, switched only when a connection moves from one kind of work to the
# other (a round trip, ~0.25 ms): `_PLAN_MODE` in the connection's info says which it is in.
_PLAN_MODE = "graphchat_plan_cache_mode"
_SET_PLAN_MODE = {
    mode: text(f"SELECT set_config('plan_cache_mode', '{mode}', false)")
    for mode in ("force_custom_plan", "auto")
}


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
        # JSON columns written as all of graphchat's JSON is (orjson), not by SQLAlchemy's
        # default `json.dumps`: NaN written as null, and ~1 us less per value.
        json_serializer=dumps_text,
        json_deserializer=_json_loads,
        connect_args={"timeout": database.connect_timeout},
    )
    event.listen(engine.sync_engine, "checkout", _discard_closed)
    statements = _session_settings(database)
    if statements:
        event.listen(engine.sync_engine, "connect", _set_session(statements))
    return engine


def _session_settings(database: DatabaseSettings) -> list[str]:
    """The SETs each new PostgreSQL connection runs (SETs, not startup parameters, which
    PgBouncer would refuse).

    `random_page_cost`: a branch is read by walking parent ids, one primary-key lookup per
    message. At the default (4, for spinning disks), a messages table of a few hundred rows —
    a new installation's — made the planner hash-join the walk with a scan of the whole table
    at every step: 200 messages of a 240-row table took 8 ms instead of 1.

    `statement_timeout`: without it a statement waiting for a lock held elsewhere, or stuck,
    held its request (and a pooled connection) for as long as that lasted."""
    statements = []
    if database.postgres_random_page_cost is not None:
        statements.append(f"SET random_page_cost = {float(database.postgres_random_page_cost)}")
    if database.statement_timeout_seconds > 0:
        milliseconds = max(1, round(database.statement_timeout_seconds * 1000))
        statements.append(f"SET statement_timeout = {milliseconds}")
    return statements


def _set_session(statements: list[str]) -> Callable[[Any, Any], None]:
    def set_session(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()  # a SET rolled back with its transaction would not last

    return set_session


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
        "json_serializer": dumps_text,  # as PostgreSQL's engine (`create_engine`)
        "json_deserializer": _json_loads,
    }
    engine = create_async_engine(database.url, **pool)
    prepare(engine.sync_engine, database.sqlite_busy_timeout_ms)
    _listen_for_begin(engine.sync_engine)
    if path is not None:
        sync_url = engine.url.set(drivername="sqlite")
        file = SQLiteFile.open(sync_url, database.sqlite_busy_timeout_ms, **pool)
        _SQLITE_FILES[engine.sync_engine] = file
    return engine


def _listen_for_begin(engine: Engine) -> None:
    """The async engine's transactions BEGIN as their `_WRITE_OPTION` says."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql(SQLITE_BEGIN[write])


def statement_engines(engine: AsyncEngine) -> list[Engine]:
    """The synchronous engines that send `engine`'s statements (SQLite files have three)."""
    file = _SQLITE_FILES.get(engine.sync_engine)
    extra = [file.loop_writer, file.twin] if file is not None else []
    return [engine.sync_engine, *extra]


async def dispose(engine: AsyncEngine) -> None:
    file = _SQLITE_FILES.pop(engine.sync_engine, None)
    if file is not None:
        await file.close()
    await engine.dispose()


def _writer_lock(engine: AsyncEngine) -> contextlib.AbstractAsyncContextManager[object]:
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    return _sqlite_writer_lock(engine)


def _sqlite_writer_lock(engine: AsyncEngine) -> asyncio.Lock:
    """SQLite has one writer at a time, and a waiting writer polls with growing sleeps (1, 2,
    5… 100 ms). Writers of this process queue on an asyncio lock instead, so SQLite's own
    waiting is left to writers of other processes."""
    lock = _WRITER_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITER_LOCKS[engine.sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _connection(engine: AsyncEngine, write: bool) -> AsyncIterator[AsyncConnection]:
    """A connection for one transaction (a writer's, queued behind this process's writers)."""
    with translated():
        async with (
            _writer_lock(engine) if write else contextlib.nullcontext(),
            engine.connect() as connection,
        ):
            if write and engine.dialect.name == "sqlite":  # only SQLite's BEGIN reads it
                await connection.execution_options(**{_WRITE_OPTION: True})
            yield connection


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, write: bool = False, keyed: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed on success; driver errors become ours.
    `keyed`: as `run_transaction`'s."""
    async with _connection(engine, write) as connection:
        session = connection.sync_connection
        assert session is not None  # connected
        mode = _plan_mode_to_set(session, keyed)
        async with connection.begin():
            if mode is not None:
                await connection.run_sync(_set_plan_mode, mode)
            yield connection
        _plan_mode_set(session, mode)


async def run_transaction(
    engine: AsyncEngine,
    body: Callable[[Connection], T],
    *,
    write: bool = False,
    autocommit: bool = False,
    keyed: bool = False,
    short: bool = False,
    bulk: bool = False,
) -> T:
    """`body(connection)` in one transaction, committed on success; driver errors become ours.

    A body of a few indexed statements (a turn's begin and finish, a batch of events). On a
    SQLite file a write runs on this thread when no other writer holds the file, otherwise —
    and every read — in one worker-thread call (store/sqlite_file.py); on PostgreSQL the
    check-out, begin, body, commit and check-in run in one greenlet, statements through the
    async driver.

    `keyed`: every statement of `body` finds its rows by key, so PostgreSQL may reuse its
    plans (`_PLAN_MODE`). `autocommit`: on PostgreSQL each statement of `body` is its own
    transaction (no BEGIN and COMMIT round trips) — for a keyed body whose writes are one
    statement. SQLite ignores both. `short`: a read of a few rows found by key in one
    statement, which a SQLite file runs on this thread, as a write (`SQLiteFile.read`), and
    PostgreSQL without BEGIN and COMMIT (as `autocommit`). `bulk`: a write that may touch many
    rows (a cascade, a prune), which a SQLite file runs in one worker-thread call, never on the
    loop's thread.
    """
    file = _SQLITE_FILES.get(engine.sync_engine)
    if file is None and engine.dialect.name == "postgresql":
        with translated():
            alone = autocommit or short
            return await greenlet_spawn(_on_postgres, engine.sync_engine, body, alone, keyed)
    if file is None:
        async with _connection(engine, write) as connection:
            return await connection.run_sync(in_transaction, body, keyed)
    with translated():
        if short and not write:
            return await file.read(body)
        if not write:
            return await asyncio.to_thread(run_on, file.twin, body, write)
        if bulk:
            return await file.write_in_worker(body, _sqlite_writer_lock(engine))
        return await file.write(body, _sqlite_writer_lock(engine))


async def read_row(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any] | None = None
) -> Row[Any] | None:
    """The first row of one statement that finds its rows by key: a short read
    (`run_transaction`), on a SQLite file on the loop's thread."""
    return await run_transaction(
        engine, lambda connection: connection.execute(statement, parameters).first(), short=True
    )


async def changed_rows(
    engine: AsyncEngine, statement: Executable, *, autocommit: bool = False, bulk: bool = False
) -> int:
    """How many rows one write statement changed, as a `run_transaction` write body (its
    `autocommit` for a keyed one-row write, `bulk` for one that may touch many)."""
    return int(
        await run_transaction(
            engine,
            lambda connection: connection.execute(statement).rowcount,
            write=True,
            autocommit=autocommit,
            bulk=bulk,
        )
    )


async def read_rows(engine: AsyncEngine, statement: Executable) -> Sequence[Row[Any]]:
    """The rows of one read statement, in one `run_transaction` call (on a SQLite file one
    worker-thread hop; through aiosqlite it was a hop per step: begin, execute, fetch, close)."""
    return await run_transaction(engine, lambda connection: connection.execute(statement).all())


def _on_postgres(
    engine: Engine, body: Callable[[Connection], T], autocommit: bool, keyed: bool
) -> T:
    """Check-out, `body` and check-in in one greenlet: through `AsyncConnection`, the check-out,
    the isolation level, the body and the check-in took one greenlet each (0.085 ms more CPU
    per transaction, bench/analysis.md round 19)."""
    with engine.connect() as connection:
        if autocommit:
            return _alone(connection.execution_options(isolation_level="AUTOCOMMIT"), body)
        return in_transaction(connection, body, keyed)


def in_transaction(connection: Connection, body: Callable[[Connection], T], keyed: bool) -> T:
    # One greenlet switch where begin and commit through the async API took one each.
    mode = _plan_mode_to_set(connection, keyed)
    with connection.begin():
        if mode is not None:
            _set_plan_mode(connection, mode)
        result = body(connection)
    _plan_mode_set(connection, mode)
    return result


def _alone(connection: Connection, body: Callable[[Connection], T]) -> T:
    """`body` with each statement its own transaction, keyed (see `run_transaction`)."""
    mode = _plan_mode_to_set(connection, keyed=True)
    if mode is not None:
        _set_plan_mode(connection, mode)
        _plan_mode_set(connection, mode)
    return body(connection)


def plans_keyed(connection_info: dict[Any, Any]) -> bool:
    """Whether the session of the connection with this `info` reuses keyed statements' plans."""
    return bool(connection_info.get(_PLAN_MODE) == "auto")


def _plan_mode_to_set(connection: Connection, keyed: bool) -> str | None:
    """The plan cache mode this PostgreSQL session must switch to first, if any."""
    if connection.dialect.name != "postgresql":
        return None
    wanted = "auto" if keyed else "force_custom_plan"
    return None if connection.info.get(_PLAN_MODE) == wanted else wanted


def _set_plan_mode(connection: Connection, mode: str) -> None:
    # Unknown until the transaction commits: a rollback takes the setting back.
    connection.info[_PLAN_MODE] = None
    connection.execute(_SET_PLAN_MODE[mode])


def _plan_mode_set(connection: Connection, mode: str | None) -> None:
    if mode is not None:
        connection.info[_PLAN_MODE] = mode
