"""A turn's statements sent by the DB-API cursor, without SQLAlchemy's execution around them.

PostgreSQL: a turn's begin and finish are one statement each, sent alone (autocommit, runs.py),
as is a new thread's model-written title (threads.py). SQLAlchemy's execution (the compiled-cache
lookup, its execution context, the result object) cost about 0.1 ms of CPU per statement more
than the driver's cursor on the same connection; without it a c=1 PostgreSQL turn took 0.24 ms
less CPU and 0.28 ms less time (bench/analysis.md, round 19). A kept thread's begin and every
finish go further, awaited on the driver's connection itself (awaited.py), with the plans and
arguments made here.

SQLite: a turn's writes inside the transaction a file's synchronous engine began on the driver
(store/sqlite_file.py), `write_alone` for those that return nothing (bench/analysis.md, round 22).

Nothing else changes:
- The statement is compiled by SQLAlchemy, once per set of parameter names (as its own cache
  keys it), and its parameters go through the same bind processors, so the driver gets what
  SQLAlchemy would have sent. Where each value comes from is worked out with the compiled
  form, as `construct_params` does at every execution.
- `before_cursor_execute` and `after_cursor_execute` listeners see it (the statement-count
  tests); they get no execution context, as there is none.
- A failure becomes SQLAlchemy's error through SQLAlchemy's own handling: the same exception
  classes, `handle_error` events, and a lost connection invalidated (it leaves the pool).
- Where SQLAlchemy would do more (a PostgreSQL statement inside a transaction, parameters
  rendered per execution, column defaults it computes, returned columns it converts, the
  async SQLite driver), `Connection.execute` sends it.

Four SQLAlchemy internals are read, `_bind_processors`, `_collected_params` and
`_result_columns` of the compiled statement and `_has_events` of the connection and its
engine, and one called, `Connection._handle_dbapi_exception`; the version is pinned by the lock
file, and tests/unit/store/test_sent_alone.py fails if they move.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

# A statement's compiled text and, in the driver's order, where each parameter's value comes from:
# the row's key and the bind processor, or (key None) the value the statement gives, processed
# already. None: not sent directly. Per dialect, then keyed by the statement (hashed by identity),
# its parameter names and whether it runs for many rows, as SQLAlchemy's own compiled cache is.
_Binds = list[tuple[str | None, Any, Callable[[Any], Any] | None]]
_Plan = tuple[str, _Binds]
_PlanKey = tuple[Executable, tuple[str, ...], bool]
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[_PlanKey, _Plan | None]] = (
    weakref.WeakKeyDictionary()
)
T = TypeVar("T")


def execute_alone(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any]
) -> Mapping[Any, Any] | None:
    """Execute `statement` as `connection.execute` would; its first row by column name, if any."""
    plan = _plan(connection, statement, tuple(parameters), many=False)
    if plan is None:
        return _executed(connection, statement, parameters)
    return _sent(connection, plan, [parameters], _first_row)


def write_alone(
    connection: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Execute `statement`, which returns nothing, once per mapping of `rows` (all with the same
    keys), as `connection.execute` would; how many rows it changed (-1 for several rows on
    asyncpg, which does not count a batch)."""
    plan = _plan(connection, statement, tuple(rows[0]), many=len(rows) > 1)
    if plan is None:
        return int(connection.execute(statement, list(rows)).rowcount)
    return _sent(connection, plan, rows, _row_count)


def _sent(
    connection: Connection,
    plan: _Plan,
    rows: Sequence[Mapping[str, Any]],
    read: Callable[[Any], T],
) -> T:
    """`plan`'s statement through the driver's cursor, once per row; `read` of the cursor."""
    sql, binds = plan
    arguments = [_arguments(binds, row) for row in rows]
    many = len(arguments) > 1
    sent: Any = arguments if many else arguments[0]
    events = listening(connection)
    if events is not None and events.before_cursor_execute:
        events.before_cursor_execute(connection, None, sql, sent, None, many)
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, arguments)
        else:
            cursor.execute(sql, sent)
        result = read(cursor)
    except Exception as error:  # the driver's, as the DB-API names it
        # As SQLAlchemy's execution does: its own error, and a lost connection invalidated.
        connection._handle_dbapi_exception(error, sql, sent, cursor, None)
    finally:
        cursor.close()
    if events is not None and events.after_cursor_execute:
        events.after_cursor_execute(connection, None, sql, sent, None, many)
    return result


def listening(connection: Connection) -> Any:
    """The connection's event dispatch, or None where nothing listens to its statements."""
    # SQLAlchemy's own test before it reads `dispatch` (engine/base.py): the first read of an
    # event on a new connection builds its listener, through a failed attribute lookup each.
    has_events = connection._has_events or connection.engine._has_events
    return connection.dispatch if has_events else None


def planned_arguments(
    dialect: Dialect, statement: Executable, parameters: Mapping[str, Any]
) -> tuple[str, tuple[Any, ...]] | None:
    """`statement`'s text and the driver's arguments for `parameters`, as `execute_alone` sends
    them on a connection in autocommit; None where SQLAlchemy's execution sends it."""
    plan = _cached_plan(dialect, statement, tuple(parameters), many=False)
    if plan is None:
        return None
    sql, binds = plan
    return sql, _arguments(binds, parameters)


def _arguments(binds: _Binds, row: Mapping[str, Any]) -> tuple[Any, ...]:
    # A list made first: a generator would be resumed once per value, 93 values a turn.
    return tuple(
        [
            value if key is None else row[key] if process is None else process(row[key])
            for key, value, process in binds
        ]
    )


def _first_row(cursor: Any) -> Mapping[Any, Any] | None:
    row = cursor.fetchone() if cursor.description else None
    names = [column[0] for column in cursor.description or ()]
    return None if row is None else dict(zip(names, row, strict=True))


def _row_count(cursor: Any) -> int:
    return int(cursor.rowcount)


def _executed(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any]
) -> Mapping[Any, Any] | None:
    result = connection.execute(statement, parameters)
    return result.mappings().first() if result.returns_rows else None


def _plan(
    connection: Connection, statement: Executable, keys: tuple[str, ...], *, many: bool
) -> _Plan | None:
    """How `statement` is sent through the driver; None where it is not (see the module)."""
    if not _driver_sends(connection):
        return None
    return _cached_plan(connection.dialect, statement, keys, many)


def _cached_plan(
    dialect: Dialect, statement: Executable, keys: tuple[str, ...], many: bool
) -> _Plan | None:
    plans = _PLANS.setdefault(dialect, {})
    key = (statement, keys, many)
    if key not in plans:  # the turn's statements are built once, at import
        plans[key] = _compiled(statement, dialect, keys, many)
    return plans[key]


def _driver_sends(connection: Connection) -> bool:
    driver = connection.dialect.driver
    if driver == "asyncpg":
        return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    # A SQLite file's synchronous engines (store/sqlite_file.py) send BEGIN to the driver
    # themselves: a statement inside that transaction needs nothing more from SQLAlchemy.
    return driver == "pysqlite" and connection.in_transaction()


def _compiled(
    statement: Executable, dialect: Dialect, keys: tuple[str, ...], many: bool
) -> _Plan | None:
    # As SQLAlchemy's execution compiles it: the keys given decide an INSERT's columns and an
    # UPDATE's SET clause.
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=sorted(keys), for_executemany=many
    )
    assert isinstance(compiled, SQLCompiler)
    if compiled.positiontup is None or compiled.post_compile_params or compiled.escaped_bind_names:
        return None  # rendered per execution: SQLAlchemy's own path
    if compiled.insert_prefetch or compiled.update_prefetch:
        return None  # a column default SQLAlchemy computes per execution
    if many and dialect.use_insertmanyvalues_wo_returning:
        return None  # SQLAlchemy would send the rows as one multi-row statement
    if any(_converts(entry.type, dialect) for entry in compiled._result_columns):
        return None  # rows are returned as the driver reads them
    binds = _binds(compiled, set(keys))
    return None if binds is None else (str(compiled), binds)


def _binds(compiled: SQLCompiler, keys: set[str]) -> _Binds | None:
    """Where each positional parameter's value comes from, as `construct_params` takes it for
    rows with these `keys`: the row's value by the parameter's key or name, else the value the
    statement gives. None where SQLAlchemy would compute one per execution (a callable value),
    refuse one (required, missing), merge values given by `params()` or process a tuple."""
    if compiled._collected_params:
        return None
    sources: dict[str, tuple[str | None, Any]] = {}
    for parameter, name in compiled.bind_names.items():
        key = parameter.key if parameter.key in keys else name if name in keys else None
        if key is None and (parameter.required or parameter.callable is not None):
            return None
        sources[name] = (key, None if key is not None else parameter.value)
    # SQLAlchemy's execution takes its processors from here too (`_init_compiled`).
    processors = compiled._bind_processors
    binds: _Binds = []
    for name in compiled.positiontup or ():
        key, value = sources[name]
        process = processors.get(name)
        if process is not None and not callable(process):
            return None  # a tuple's processors, one per element
        if key is None and process is not None:
            value, process = process(value), None
        binds.append((key, value, process))
    return binds


def _converts(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether SQLAlchemy converts this column's values from what the driver returns."""
    return type_.dialect_impl(dialect).result_processor(dialect, None) is not None
