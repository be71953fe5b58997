"""The append-only message log: INSERTs with per-thread sequence numbers, pages by sequence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from inspect import signature
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

from graphchat.ids import new_id
from graphchat.store.branch_map import BranchMaps
from graphchat.store.branches import ancestors, branch_rows, leaf_of
from graphchat.store.database import read_row, read_rows, run_transaction
from graphchat.store.records import (
    Checkpoint,
    Message,
    MessageBody,
    MessageWindow,
    NewMessage,
    Page,
    Tail,
)
from graphchat.store.repository import Repository
from graphchat.store.search import matching_messages
from graphchat.store.search_index import SearchIndex
from graphchat.store.sent_alone import write_alone
from graphchat.store.tables import MESSAGES, THREADS
from graphchat.store.threads import utcnow

_COLUMNS = tuple(column.name for column in MESSAGES.columns)
_BODY = tuple(field.name for field in fields(MessageBody))


def message_from_row(row: Row[Any]) -> Message:
    mapping = row._mapping  # a property that builds a new mapping on each access
    return Message(**{name: mapping[name] for name in _COLUMNS})


def message_rows(
    thread_id: str,
    run_id: str | None,
    messages: Sequence[NewMessage],
    after: Tail,
    now: datetime | None = None,
) -> list[Message]:
    """The rows `messages` become after `after`, each the parent of the next: built, not stored.
    Created `now`, the time of the transaction storing them (default: this moment)."""
    now = utcnow() if now is None else now
    rows: list[Message] = []
    parent_id = after.leaf_id
    for offset, message in enumerate(messages, start=1):
        row = Message(
            id=message.id or new_id(),
            thread_id=thread_id,
            seq=after.seq + offset,
            run_id=run_id,
            created_at=now,
            parent_id=parent_id,
            **{name: getattr(message, name) for name in _BODY},
        )
        rows.append(row)
        parent_id = row.id
    return rows


# A turn's statements are built once: building one costs about as much CPU as running it.
_INSERT_MESSAGES = insert(MESSAGES)
# SET takes the columns of the parameters given besides `thread_id`.
_UPDATE_THREAD = update(THREADS).where(THREADS.c.id == bindparam("thread_id", type_=String))


def insert_messages(connection: Connection, rows: Sequence[Message]) -> None:
    """One multi-row INSERT; the unique (thread_id, seq) key refuses a stale sequence number."""
    if rows:
        values = [{name: getattr(row, name) for name in _COLUMNS} for row in rows]
        write_alone(connection, _INSERT_MESSAGES, values)


def _window_message(
    role: str,
    content: str,
    tool_calls: list[dict[str, Any]] | None,
    tool_call_id: str | None,
    name: str | None,
    model: str | None,
    status: str,
    finish_reason: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    latency_ms: float | None,
    cached: bool,
    id: str,
    thread_id: str,
    seq: int,
    created_at: datetime,
    run_id: str | None,
    parent_id: str | None,
) -> Message:
    """A window row as a record: the window selects these parameters' columns, in order.

    Keywords spelled out: a dict per row to unpack cost a third of the record's CPU."""
    return Message(
        role=role,
        content=content,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        name=name,
        model=model,
        status=status,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        cached=cached,
        id=id,
        thread_id=thread_id,
        seq=seq,
        created_at=created_at,
        run_id=run_id,
        parent_id=parent_id,
    )


_WINDOW_COLUMNS = tuple(signature(_window_message).parameters)


def _window_query(start: Any) -> Select[Any]:
    """The newest `:limit` messages of the branch ending at `start`, newest first."""
    limit = bindparam("limit", type_=Integer)
    query = ancestors(start, limit)
    columns = query.selected_columns
    query = query.with_only_columns(*(columns[name] for name in _WINDOW_COLUMNS))
    return query.order_by(columns.seq.desc()).limit(limit)


# Built once: constructing the recursive query cost more CPU than running it.
_WINDOW_FROM_MESSAGE = _window_query(bindparam("start", type_=String))
_WINDOW_FROM_LEAF = _window_query(leaf_of(bindparam("thread_id", type_=String)))
_WINDOW_FROM_OWNED_LEAF = _window_query(
    select(THREADS.c.leaf_message_id)
    .where(
        THREADS.c.id == bindparam("thread_id", type_=String),
        THREADS.c.owner == bindparam("owner", type_=String),
    )
    .scalar_subquery()
)


def _messages(newest_first: Sequence[Row[Any]]) -> list[Message]:
    """Window rows as records, oldest first."""
    return [_window_message(*row) for row in reversed(newest_first)]


def window(connection: Connection, leaf_id: str, limit: int) -> list[Message]:
    """The last `limit` messages of the branch ending at `leaf_id`, oldest first: a walk up the
    parents bounded by `limit`, whatever the thread's size."""
    rows = connection.execute(_WINDOW_FROM_MESSAGE, {"start": leaf_id, "limit": limit}).all()
    return _messages(rows)


def current_window(connection: Connection, thread_id: str, limit: int) -> list[Message]:
    """The last `limit` messages of the thread's current branch, oldest first."""
    rows = connection.execute(_WINDOW_FROM_LEAF, {"thread_id": thread_id, "limit": limit}).all()
    return _messages(rows)


def highest_seq(thread_id: Any) -> Any:
    """The thread's highest message sequence number (0 without messages), as a subquery."""
    # The last entry of the (thread_id, seq) index, whatever the statistics say: PostgreSQL,
    # estimating a thread grown since its last ANALYZE at one row, read the whole thread for
    # max(seq) (0.26 ms at 1,200 messages, growing with the thread).
    last = (
        select(MESSAGES.c.seq)
        .where(MESSAGES.c.thread_id == thread_id)
        .order_by(MESSAGES.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(last, 0)


_THREAD_ID = bindparam("thread_id", type_=String)
_TAIL = select(highest_seq(_THREAD_ID).label("seq"), leaf_of(_THREAD_ID).label("leaf_id"))
_CHECKPOINT = select(
    THREADS.c.owner,
    func.coalesce(
        select(MESSAGES.c.seq).where(MESSAGES.c.id == THREADS.c.leaf_message_id).scalar_subquery(),
        0,
    ).label("leaf_seq"),
    select(MESSAGES.c.id)
    .where(MESSAGES.c.thread_id == _THREAD_ID, MESSAGES.c.seq == bindparam("seq", type_=Integer))
    .scalar_subquery()
    .label("message_id"),
).where(THREADS.c.id == _THREAD_ID)


def tail_of(connection: Connection, thread_id: str) -> Tail:
    """The thread's highest sequence number and current leaf, in one SELECT."""
    row = connection.execute(_TAIL, {"thread_id": thread_id}).one()
    return Tail(row.seq, row.leaf_id)


def update_thread(connection: Connection, thread_id: str, values: dict[str, Any]) -> bool:
    """Set the thread's columns named in `values`; False when it no longer exists."""
    return bool(write_alone(connection, _UPDATE_THREAD, [{"thread_id": thread_id, **values}]))


def touch_thread(connection: Connection, thread_id: str, leaf_id: str | None = None) -> bool:
    """Mark the thread active, moving its leaf when given; False when it no longer exists."""
    values: dict[str, Any] = {"updated_at": utcnow()}
    if leaf_id is not None:
        values["leaf_message_id"] = leaf_id
    return update_thread(connection, thread_id, values)


def append_messages(
    connection: Connection,
    thread_id: str,
    run_id: str | None,
    messages: Sequence[NewMessage],
    after: Tail | None = None,
) -> list[Message]:
    """INSERT `messages` after `after` (looked up when not known), then touch the thread with
    its leaf moved to the last of them.

    Never touches earlier rows; the unique (thread_id, seq) key refuses a stale `after`.
    """
    if not messages:
        touch_thread(connection, thread_id)
        return []
    rows = message_rows(thread_id, run_id, messages, after or tail_of(connection, thread_id))
    insert_messages(connection, rows)
    touch_thread(connection, thread_id, rows[-1].id)
    return rows


class MessageRepository(Repository):
    def __init__(self, engine: AsyncEngine, index: SearchIndex) -> None:
        super().__init__(engine)
        self._branches = BranchMaps()
        self._index = index

    async def page(self, thread_id: str, window: MessageWindow) -> Page[Message, int]:
        """A page of the current branch by sequence number; `before`/`after` are exclusive.

        The cursor is the last message's sequence number: the next page's `after` (asc) or
        `before` (desc)."""
        # One call (on a SQLite file one worker-thread hop instead of aiosqlite's per step).
        rows = await run_transaction(
            self._engine, lambda c: branch_rows(c, thread_id, window, self._branches)
        )
        limit = window.limit
        messages = [message_from_row(row) for row in rows[:limit]]
        if len(rows) <= limit:
            return Page(items=messages, has_more=False)
        return Page(items=messages, has_more=True, next_cursor=messages[-1].seq)

    async def at(self, thread_id: str, seq: int) -> Message | None:
        """The thread's message numbered `seq` (on any branch)."""
        query = select(MESSAGES).where(MESSAGES.c.thread_id == thread_id, MESSAGES.c.seq == seq)
        row = await read_row(self._engine, query)
        return message_from_row(row) if row is not None else None

    async def checkpoint(self, owner: str, thread_id: str, seq: int) -> Checkpoint | None:
        """Where message `seq` of `owner`'s thread stands, in one statement; None when `owner`
        has no such thread."""
        parameters = {"thread_id": thread_id, "seq": seq}
        row = await read_row(self._engine, _CHECKPOINT, parameters)
        if row is None or row.owner != owner:
            return None
        return Checkpoint(leaf_seq=row.leaf_seq, message_id=row.message_id)

    async def of_run(self, run_id: str) -> list[Message]:
        """Every message a run stored (its input and its output), in order."""
        query = select(MESSAGES).where(MESSAGES.c.run_id == run_id).order_by(MESSAGES.c.seq)
        return [message_from_row(row) for row in await read_rows(self._engine, query)]

    async def recent(self, thread_id: str, limit: int) -> list[Message]:
        """The last `limit` messages of a thread's current branch, oldest first."""
        return await run_transaction(
            self._engine, lambda c: current_window(c, thread_id, limit), autocommit=True
        )

    async def owned_branch(self, owner: str, thread_id: str, limit: int) -> list[Message]:
        """The last `limit` messages of the current branch of `owner`'s thread `thread_id`,
        oldest first, in one statement: none when the thread has none or is not `owner`'s."""
        parameters = {"thread_id": thread_id, "owner": owner, "limit": limit}

        def read(connection: Connection) -> list[Message]:
            return _messages(connection.execute(_WINDOW_FROM_OWNED_LEAF, parameters).all())

        return await run_transaction(self._engine, read, short=True)

    async def search(
        self, owner: str, text: str, *, limit: int, exclude_run_id: str | None = None
    ) -> list[Message]:
        """`owner`'s user/assistant messages matching `text` (full-text, any case), best first.

        Ownership comes from a join on `threads.owner`, so no other owner's message can match.
        """
        await self._index.catch_up()
        rows = await run_transaction(
            self._engine,
            lambda c: matching_messages(c, owner, text, limit=limit, exclude_run_id=exclude_run_id),
        )
        return [message_from_row(row) for row in rows]
