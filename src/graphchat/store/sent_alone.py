"""PostgreSQL: a turn's one-statement writes, sent by the DB-API cursor without SQLAlchemy's
execution around it.

A turn's begin and finish are one statement each, sent alone (autocommit, runs.py), as is a new
thread's model-written title (threads.py). SQLAlchemy's execution (the compiled-cache lookup,
its execution context, the result object) cost about 0.1 ms of CPU per statement more than the
driver's cursor on the same connection; without it a c=1 PostgreSQL turn took 0.24 ms less CPU
and 0.28 ms less time (bench/analysis.md, round 19).

Nothing else changes:
- The statement is compiled by SQLAlchemy, once, and its parameters go through the same bind
  processors, so the driver gets what SQLAlchemy would have sent.
- `before_cursor_execute` and `after_cursor_execute` listeners see it (the statement-count
  tests); they get no execution context, as there is none.
- A failure becomes SQLAlchemy's error through SQLAlchemy's own handling: the same exception
  classes, `handle_error` events, and a lost connection invalidated (it leaves the pool).
- Where SQLAlchemy would do more (SQLite, a statement inside a transaction, parameters rendered
  per execution, returned columns it converts), `Connection.execute` sends it.

Two SQLAlchemy internals are read, `_bind_processors` and `_result_columns` of the compiled
statement, and one called, `Connection._handle_dbapi_exception`; the version is pinned by the
lock file, and tests/unit/store/test_sent_alone.py fails if they move.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

# Per dialect and statement (statements hash by identity): its compiled text, the compiled form
# and, in the driver's order, each parameter's name and bind processor. None: not sent directly.
_Plan = tuple[str, SQLCompiler, list[tuple[str, Callable[[Any], Any] | None]]]
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[Executable, _Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def execute_alone(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any]
) -> Mapping[Any, Any] | None:
    """Execute `statement` as `connection.execute` would; its first row by column name, if any."""
    plan = _plan(connection, statement)
    if plan is None:
        return _executed(connection, statement, parameters)
    sql, compiled, binds = plan
    values = compiled.construct_params(parameters)
    arguments = tuple(
        values[name] if process is None else process(values[name]) for name, process in binds
    )
    events = connection.dispatch
    if events.before_cursor_execute:
        events.before_cursor_execute(connection, None, sql, arguments, None, False)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, arguments)
        row = cursor.fetchone() if cursor.description else None
        names = [column[0] for column in cursor.description or ()]
    except Exception as error:  # the driver's, as the DB-API names it
        # As SQLAlchemy's execution does: its own error, and a lost connection invalidated.
        connection._handle_dbapi_exception(error, sql, arguments, cursor, None)
    finally:
        cursor.close()
    if events.after_cursor_execute:
        events.after_cursor_execute(connection, None, sql, arguments, None, False)
    return None if row is None else dict(zip(names, row, strict=True))


def _executed(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any]
) -> Mapping[Any, Any] | None:
    result = connection.execute(statement, parameters)
    return result.mappings().first() if result.returns_rows else None


def _plan(connection: Connection, statement: Executable) -> _Plan | None:
    """How `statement` is sent through the driver; None where it is not (see the module)."""
    dialect = connection.dialect
    if dialect.driver != "asyncpg":
        return None
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        return None
    plans = _PLANS.setdefault(dialect, {})
    if statement not in plans:  # the turn's statements are built once, at import
        plans[statement] = _compiled(statement, dialect)
    return plans[statement]


def _compiled(statement: Executable, dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if compiled.positiontup is None or compiled.post_compile_params or compiled.escaped_bind_names:
        return None  # rendered per execution: SQLAlchemy's own path
    # SQLAlchemy's execution takes its processors from here too (`_init_compiled`).
    processors = compiled._bind_processors
    binds = [(name, processors.get(name)) for name in compiled.positiontup]
    if not all(process is None or callable(process) for _, process in binds):
        return None  # a tuple's processors, one per element
    if any(_converts(entry.type, dialect) for entry in compiled._result_columns):
        return None  # rows are returned as the driver reads them
    return str(compiled), compiled, binds  # type: ignore[return-value]  # all callable


def _converts(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether SQLAlchemy converts this column's values from what the driver returns."""
    return type_.dialect_impl(dialect).result_processor(dialect, None) is not None
