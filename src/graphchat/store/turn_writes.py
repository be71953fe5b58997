"""A turn's writes, per database: what begin stores after its reads, and the whole finish.

SQLite runs in this process, so each statement stands alone (no round trip to save). On
PostgreSQL every statement is a round trip, and a transaction adds two (BEGIN, COMMIT): begin's
writes (a new thread's too), a run's tool messages and the whole finish are one statement each
(data-modifying CTEs), which PostgreSQL runs as its own transaction — the finish in 1 round trip
where it took 6.

Begin's reads then run outside a transaction too. That is safe because in a READ COMMITTED
transaction each statement already sees a fresh snapshot, plain reads take no locks, and the
write is one atomic statement; what changed between the reads and the write is refused by the
unique indexes (one running run per thread, one message per sequence number), as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    String,
    Table,
    bindparam,
    column,
    exists,
    func,
    insert,
    literal_column,
    select,
    table,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

from graphchat.errors import RunClosedElsewhere
from graphchat.store.awaited import send_alone
from graphchat.store.database import run_transaction
from graphchat.store.messages import (
    append_messages,
    insert_messages,
    message_rows,
    update_thread,
)
from graphchat.store.records import (
    Message,
    NewMessage,
    NewRun,
    Run,
    RunEvent,
    RunOutcome,
    RunStatus,
    Tail,
    TurnStart,
)
from graphchat.store.run_events import as_json, batch_rows, insert_events
from graphchat.store.sent_alone import execute_alone, write_alone
from graphchat.store.tables import MESSAGES, RUN_EVENTS, RUNS, THREADS
from graphchat.store.threads import utcnow

# Only a running run is finished: one another replica closed as interrupted stays closed.
_FINISH_RUN = update(RUNS).where(
    RUNS.c.id == bindparam("run_id"), RUNS.c.status == RunStatus.RUNNING.value
)
_INSERT_RUN = insert(RUNS)
_INTERNAL_COLUMNS = {"worker_id", "heartbeat_at", "cancel_requested_at"}
RUN_COLUMNS = tuple(c.name for c in RUNS.columns if c.name not in _INTERNAL_COLUMNS)
_INSERT_THREAD = insert(THREADS)


def started_run(run: NewRun, model: str | None, now: datetime) -> tuple[Run, dict[str, Any]]:
    """The run `run` starts as, started `now` (its turn's begin), and the row it is stored as."""
    stored = Run(
        id=run.id,
        thread_id=run.thread_id,
        owner=run.owner,
        status=RunStatus.RUNNING,
        model=model,
        params=run.params,
        created_at=now,
        started_at=now,
        idempotency_key=run.idempotency_key,
        request_hash=run.request_hash,
    )
    values = {name: getattr(stored, name) for name in RUN_COLUMNS} | {
        "status": RunStatus.RUNNING.value,
        "worker_id": run.worker_id,
        "heartbeat_at": now,
        "cancel_requested_at": None,
    }
    return stored, values


def _is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


class WriteHook(Protocol):
    """What work starts on a turn while its begin writes it (`RunRepository.begin_turn`)."""

    def __call__(self, start: TurnStart, likely: bool) -> None:
        """The turn about to be written, and whether the store expects that write to land: a
        new thread, or a kept one while such writes land (window_cache.py)."""

    async def until_waiting(self) -> None:
        """Returns once the work started on the last turn announced waits outside the event
        loop, or has ended: a write on the loop's own thread (SQLite) then runs beside it."""


def announce(on_write: WriteHook | None, start: TurnStart, *, likely: bool = False) -> None:
    """Hand `start` to `on_write`, if given, before its write is sent."""
    if on_write is not None:
        on_write(start, likely)


def start_turn(
    connection: Connection,
    run: dict[str, Any],
    messages: Sequence[Message],
    *,
    new_thread: dict[str, Any] | None = None,
    thread_update: dict[str, Any] | None = None,
) -> None:
    """Store a turn's start: the run, the caller's messages and its thread — inserted with
    `new_thread`'s values, or updated with `thread_update`'s. Integrity errors are the caller's."""
    postgres = _is_postgres(connection)
    if new_thread is not None and postgres:
        execute_alone(connection, _CREATE_THREAD, _created(run, messages, new_thread))
        return
    if new_thread is not None:
        write_alone(connection, _INSERT_THREAD, [new_thread])
        insert_turn(connection, run, messages)
        return
    assert thread_update is not None
    if postgres:
        _continue_in_one_statement(connection, run, messages, thread_update)
        return
    insert_turn(connection, run, messages)
    update_thread(connection, run["thread_id"], thread_update)


async def start_new_thread_alone(
    engine: AsyncEngine,
    run: dict[str, Any],
    messages: Sequence[Message],
    new_thread: dict[str, Any],
    sending: Callable[[], None],
) -> None:
    """PostgreSQL: `start_turn` of a new thread, one statement, its own transaction; `sending`
    as `send_alone`'s."""
    parameters = _created(run, messages, new_thread)
    await send_alone(engine, _CREATE_THREAD, parameters, sending=sending)


def _created(
    run: dict[str, Any], messages: Sequence[Message], new_thread: dict[str, Any]
) -> dict[str, Any]:
    return prefixed_values(run, new_thread) | {"messages": as_json(messages)}


def insert_turn(connection: Connection, run: dict[str, Any], messages: Sequence[Message]) -> None:
    """INSERT a turn's run and the caller's messages (SQLite; the thread is the caller's)."""
    write_alone(connection, _INSERT_RUN, [run])
    insert_messages(connection, messages)


async def finish_run(
    engine: AsyncEngine,
    thread_id: str,
    run_id: str,
    outcome: RunOutcome,
    messages: Sequence[Message],
    events: Sequence[RunEvent],
) -> bool:
    """Store a run's outcome, its last messages and its unwritten events, and touch the thread:
    on PostgreSQL one statement, its own transaction; on SQLite a write transaction.

    False when the thread was deleted while the run was active, `RunClosedElsewhere` when
    another replica closed it as interrupted meanwhile (either way nothing is stored)."""
    finished, touched = _finished(run_id, outcome, messages)
    if engine.dialect.name != "postgresql":
        return await run_transaction(
            engine,
            lambda c: _finish_on_sqlite(c, thread_id, finished, touched, messages, events),
            write=True,
        )
    parameters = finished | {
        "thread": thread_id,
        "updated_at": touched["updated_at"],
        "leaf_message_id": touched.get("leaf_message_id"),
        "messages": as_json(messages),
        "events": as_json(batch_rows(events)),
    }
    row = await send_alone(engine, _FINISH, parameters)
    assert row is not None  # a SELECT of two EXISTS: always one row
    if row["finished"]:
        return True
    if not row["thread_found"]:
        return False
    raise RunClosedElsewhere(run_id)


def _finish_on_sqlite(
    connection: Connection,
    thread_id: str,
    finished: dict[str, Any],
    touched: dict[str, Any],
    messages: Sequence[Message],
    events: Sequence[RunEvent],
) -> bool:
    if not update_thread(connection, thread_id, touched):
        return False
    insert_messages(connection, messages)
    if not write_alone(connection, _FINISH_RUN, [finished]):
        raise RunClosedElsewhere(finished["run_id"])
    insert_events(connection, events)
    return True


def _finished(
    run_id: str, outcome: RunOutcome, messages: Sequence[Message]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's finishing values, and the thread's."""
    now = utcnow()
    finished = {
        "run_id": run_id,
        "status": outcome.status.value,
        "finished_at": now,
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "error": outcome.error,
        "pending": outcome.pending,
    }
    touched: dict[str, Any] = {"updated_at": now}
    if messages:
        touched["leaf_message_id"] = messages[-1].id
    return finished, touched


def append_to_run(
    connection: Connection,
    thread_id: str,
    run_id: str,
    messages: Sequence[NewMessage],
    after: Tail,
) -> list[Message]:
    """Store a run's messages after `after` (tool calls, tool results) and move the thread's
    leaf to the last of them (`append_messages`); one statement on PostgreSQL."""
    if not messages or not _is_postgres(connection):
        return append_messages(connection, thread_id, run_id, messages, after)
    rows = message_rows(thread_id, run_id, messages, after)
    execute_alone(
        connection, _APPEND, _touched(thread_id, rows[-1].id) | {"messages": as_json(rows)}
    )
    return rows


# PostgreSQL: any number of rows travel as one JSON array parameter, so that each statement
# has one text (one prepared statement), whatever the number of messages or events.


def _rows(table: Table, parameter: str) -> Select[Any]:
    """The rows of `table` given as the JSON array parameter `parameter`."""
    names = [column.name for column in table.columns]
    document = bindparam(parameter, type_=String).cast(JSONB)
    given = func.jsonb_populate_recordset(
        literal_column(f"NULL::{table.name}"), document
    ).table_valued(*names)
    return select(*(given.c[name] for name in names))


def _insert_rows(table: Table, parameter: str, *conditions: Any) -> Any:
    names = [column.name for column in table.columns]
    return insert(table).from_select(names, _rows(table, parameter).where(*conditions))


def insert_owned_messages(owner: Any, *conditions: Any) -> Any:
    """The messages of the "messages" parameter, each given the owner `owner` (the owner
    trigger, migration 0009, looks it up only when not given), where `conditions` hold."""
    names = [column.name for column in MESSAGES.columns] + ["owner"]  # PostgreSQL's alone
    messages = table(MESSAGES.name, *(column(name) for name in names))
    given = _rows(MESSAGES, "messages").add_columns(owner).where(*conditions)
    return insert(messages).from_select(names, given)


def prefixed(table: Table, prefix: str) -> dict[str, Any]:
    """Every column of `table` bound to a parameter named `prefix` + its name."""
    return {
        column.name: bindparam(prefix + column.name, type_=column.type) for column in table.columns
    }


def _touch_thread(*conditions: Any, keep_leaf: bool = False) -> Any:
    """UPDATE of the thread named by the "thread" parameter: its activity time and its leaf
    (with `keep_leaf`, a NULL leaf parameter leaves the leaf as it is)."""
    leaf: Any = bindparam("leaf_message_id", type_=THREADS.c.leaf_message_id.type)
    if keep_leaf:
        leaf = func.coalesce(leaf, THREADS.c.leaf_message_id)
    # Not "thread_id": a parameter named as a column of an updated table is SET as well.
    thread = bindparam("thread", type_=THREADS.c.id.type)
    return (
        update(THREADS)
        .where(THREADS.c.id == thread, *conditions)
        .values(
            updated_at=bindparam("updated_at", type_=THREADS.c.updated_at.type),
            leaf_message_id=leaf,
        )
    )


def _touched(thread_id: str, leaf_id: str | None) -> dict[str, Any]:
    """The parameters of `_touch_thread`."""
    return {"thread": thread_id, "updated_at": utcnow(), "leaf_message_id": leaf_id}


_RUN = prefixed(RUNS, "run_")
_NEW_RUN = insert(RUNS).values(_RUN).cte("new_run")
_CONTINUE_THREAD = (
    _touch_thread()
    # None leaves the title as stored (a rename meanwhile is kept).
    .values(title=func.coalesce(bindparam("title", type_=THREADS.c.title.type), THREADS.c.title))
    .add_cte(_NEW_RUN, insert_owned_messages(_RUN["owner"]).cte("new_messages"))
)
_NEW_THREAD = prefixed(THREADS, "thread_")
# The trigger that gives each message its thread's owner (search, migration 0007) cannot see a
# thread inserted by the same statement: a new thread's messages are given its owner.
_CREATE_THREAD = insert_owned_messages(_NEW_THREAD["owner"]).add_cte(
    insert(THREADS).values(_NEW_THREAD).cte("new_thread"),
    _NEW_RUN,
)
# The owner trigger gives these their thread's owner.
_APPEND = _touch_thread().add_cte(_insert_rows(MESSAGES, "messages").cte("new_messages"))


def prefixed_values(run: dict[str, Any], thread: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's (and a new thread's) values as `prefixed` names them."""
    values = {f"run_{name}": value for name, value in run.items()}
    if thread is not None:
        values |= {f"thread_{name}": value for name, value in thread.items()}
    return values


def _continue_in_one_statement(
    connection: Connection,
    run: dict[str, Any],
    messages: Sequence[Message],
    thread_update: dict[str, Any],
) -> None:
    parameters = prefixed_values(run) | {
        "thread": run["thread_id"],
        "updated_at": thread_update["updated_at"],
        "leaf_message_id": thread_update["leaf_message_id"],
        "title": thread_update.get("title"),
        "messages": as_json(messages),
    }
    execute_alone(connection, _CONTINUE_THREAD, parameters)


def _finish_statement() -> Select[bool, bool]:
    outcome = ("status", "finished_at", "prompt_tokens", "completion_tokens", "error", "pending")
    finished = (
        _FINISH_RUN.values({name: bindparam(name, type_=RUNS.c[name].type) for name in outcome})
        .returning(RUNS.c.id, RUNS.c.owner)
        .cte("finished")
    )
    ran = exists(select(finished.c.id))
    touched = _touch_thread(ran, keep_leaf=True).cte("touched")
    # The run's owner, as it returns it: the owner trigger then never fires (migration 0011).
    owner = select(finished.c.owner).scalar_subquery()
    new_messages = insert_owned_messages(owner, ran).cte("new_messages")
    new_events = _insert_rows(RUN_EVENTS, "events", ran).cte("new_events")
    thread_id = bindparam("thread", type_=THREADS.c.id.type)
    thread_found = exists(select(THREADS.c.id).where(THREADS.c.id == thread_id))
    return select(ran.label("finished"), thread_found.label("thread_found")).add_cte(
        touched, new_messages, new_events
    )


_FINISH = _finish_statement()
