"""PostgreSQL: a turn's one-statement writes awaited on asyncpg's own connection.

Sent alone through `run_transaction(..., autocommit=True)`, a statement runs in a greenlet that
SQLAlchemy spawns for its async adaptation, on a `Connection` switched to autocommit and back,
and the asyncpg adapter's cursor sends it: the greenlet waits out the round trip, and the
switches, the adapter's lock and its prepared-statement bookkeeping run per statement. Here the
coroutine awaits the driver itself, on the connection the pool lends: the same statement took
~0.1 ms less CPU on this machine (bench/analysis.md, round 50).

Nothing else changes from `execute_alone` (sent_alone.py):
- The pool lends the connection, in a greenlet that does no I/O unless it must connect; the
  session then plans keyed statements as `run_transaction` sets it to for a statement alone.
- The statement is compiled once and its arguments are made as `execute_alone` makes them, so
  the driver gets what it would have got. Listeners see it as there, with a `Connection` on the
  lent connection made only for them.
- A failure becomes the adapter's DB-API error, then SQLAlchemy's through its own handling (a
  lost connection invalidated, which may close its socket: in a greenlet), then ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

from graphchat.store.database import in_transaction, plans_keyed, run_transaction
from graphchat.store.driver_errors import translated
from graphchat.store.sent_alone import execute_alone, listening, planned_arguments


async def send_alone(
    engine: AsyncEngine,
    statement: Executable,
    parameters: Mapping[str, Any],
    *,
    sending: Callable[[], None] | None = None,
) -> Mapping[Any, Any] | None:
    """`statement` as its own transaction, as `execute_alone` in a `run_transaction` with
    `autocommit` would send it; its first row by column name, if any. `sending` is called once a
    connection is lent, as the statement is about to leave: work it starts fills the wait.
    On another driver than asyncpg, `run_transaction` sends it."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect
    planned = None
    if dialect.driver == "asyncpg":
        planned = planned_arguments(dialect, statement, parameters)
    if planned is None:  # SQLAlchemy's execution sends it
        if sending is not None:
            sending()
        return await run_transaction(
            engine, lambda c: execute_alone(c, statement, parameters), write=True, autocommit=True
        )
    with translated():
        lent = await greenlet_spawn(_lent, sync_engine)
        try:
            if sending is not None:
                sending()
            return await _sent(sync_engine, lent, *planned)
        finally:
            # The driver's connection is in autocommit, as asyncpg's are outside a transaction:
            # nothing to roll back, and the check-in's reset needs no round trip.
            lent.close()


def _lent(engine: Engine) -> PoolProxiedConnection:
    lent = engine.raw_connection()
    try:
        if not plans_keyed(lent.info):  # a new connection, or one a transaction switched
            in_transaction(Connection(engine, connection=lent), _nothing, keyed=True)
    except BaseException:
        lent.close()
        raise
    return lent


def _nothing(_connection: Connection) -> None:
    return None


async def _sent(
    engine: Engine, lent: PoolProxiedConnection, sql: str, arguments: tuple[Any, ...]
) -> Mapping[Any, Any] | None:
    listener = Connection(engine, connection=lent) if engine._has_events else None
    events = listening(listener) if listener is not None else None
    if events is not None and events.before_cursor_execute:
        events.before_cursor_execute(listener, None, sql, arguments, None, False)
    driver = lent.driver_connection
    assert driver is not None  # checked out
    try:
        row = await driver.fetchrow(sql, *arguments)
    except Exception as error:  # the driver's own
        await greenlet_spawn(_failed, engine, lent, error, sql, arguments)
    if events is not None and events.after_cursor_execute:
        events.after_cursor_execute(listener, None, sql, arguments, None, False)
    return None if row is None else dict(row.items())


def _failed(
    engine: Engine, lent: PoolProxiedConnection, error: Exception, sql: str, arguments: Any
) -> NoReturn:
    """Raise `error` as SQLAlchemy's execution would have."""
    try:
        lent.dbapi_connection._handle_exception(error)  # type: ignore[union-attr]
    except Exception as dbapi_error:  # the adapter's DB-API error for it
        connection = Connection(engine, connection=lent)
        connection._handle_dbapi_exception(dbapi_error, sql, arguments, None, None)
    raise AssertionError("unreachable: both handlers raise")
