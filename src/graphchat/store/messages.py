"""The append-only message log: INSERTs with per-thread sequence numbers, pages by sequence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Literal, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.store.database import run_transaction, transaction
from graphchat.store.records import Message, NewMessage, Page
from graphchat.store.search import matching_messages
from graphchat.store.tables import MessageRow, ThreadRow
from graphchat.store.threads import utcnow

_MESSAGE = cast(Table, MessageRow.__table__)
_THREAD = cast(Table, ThreadRow.__table__)
_COLUMNS = tuple(column.name for column in _MESSAGE.columns)
_GIVEN = tuple(field.name for field in fields(NewMessage) if field.name != "id")


def message_from_row(row: Row[Any]) -> Message:
    return Message(**{name: row._mapping[name] for name in _COLUMNS})


def message_rows(
    thread_id: str, run_id: str | None, messages: Sequence[NewMessage], last_seq: int
) -> list[Message]:
    """The rows `messages` become after the thread's message `last_seq`: built, not yet stored."""
    now = utcnow()
    return [
        Message(
            id=message.id or str(uuid.uuid4()),
            thread_id=thread_id,
            seq=last_seq + offset,
            run_id=run_id,
            created_at=now,
            **{name: getattr(message, name) for name in _GIVEN},
        )
        for offset, message in enumerate(messages, start=1)
    ]


def insert_messages(connection: Connection, rows: Sequence[Message]) -> None:
    """One multi-row INSERT; the unique (thread_id, seq) key refuses a stale sequence number."""
    if rows:
        connection.execute(
            insert(_MESSAGE), [{name: getattr(row, name) for name in _COLUMNS} for row in rows]
        )


def window(connection: Connection, thread_id: str, limit: int) -> list[Message]:
    """The thread's last `limit` messages, oldest first."""
    query = (
        select(_MESSAGE)
        .where(_MESSAGE.c.thread_id == thread_id)
        .order_by(_MESSAGE.c.seq.desc())
        .limit(limit)
    )
    rows = connection.execute(query).all()
    return [message_from_row(row) for row in reversed(rows)]


def append_messages(
    connection: Connection,
    thread_id: str,
    run_id: str | None,
    messages: Sequence[NewMessage],
    last_seq: int | None = None,
) -> list[Message]:
    """INSERT `messages` after the thread's last one (`last_seq`, looked up when not known).

    Never touches earlier rows; the unique (thread_id, seq) key refuses a stale `last_seq`.
    """
    if not messages:
        return []
    last = last_seq
    if last is None:
        last = (
            connection.execute(
                select(func.max(_MESSAGE.c.seq)).where(_MESSAGE.c.thread_id == thread_id)
            ).scalar_one_or_none()
            or 0
        )
    rows = message_rows(thread_id, run_id, messages, last)
    insert_messages(connection, rows)
    return rows


class MessageRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(
        self,
        thread_id: str,
        *,
        limit: int,
        offset: int = 0,
        before: int | None = None,
        after: int | None = None,
        order: Literal["asc", "desc"] = "asc",
    ) -> Page[Message, int]:
        """A page of a thread's messages by sequence number; `before`/`after` are exclusive.

        The cursor is the last message's sequence number: the next page's `after` (asc) or
        `before` (desc)."""
        query = select(_MESSAGE).where(_MESSAGE.c.thread_id == thread_id)
        if before is not None:
            query = query.where(_MESSAGE.c.seq < before)
        if after is not None:
            query = query.where(_MESSAGE.c.seq > after)
        ordering = _MESSAGE.c.seq.asc() if order == "asc" else _MESSAGE.c.seq.desc()
        query = query.order_by(ordering).limit(limit + 1).offset(offset)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        messages = [message_from_row(row) for row in rows[:limit]]
        if len(rows) <= limit:
            return Page(items=messages, has_more=False)
        return Page(items=messages, has_more=True, next_cursor=messages[-1].seq)

    async def of_run(self, run_id: str) -> list[Message]:
        """Every message a run stored (its input and its output), in order."""
        query = select(_MESSAGE).where(_MESSAGE.c.run_id == run_id).order_by(_MESSAGE.c.seq)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [message_from_row(row) for row in rows]

    async def recent(self, thread_id: str, limit: int) -> list[Message]:
        """The last `limit` messages of a thread, oldest first."""
        return await run_transaction(self._engine, lambda c: window(c, thread_id, limit))

    async def search(
        self, owner: str, text: str, *, limit: int, exclude_run_id: str | None = None
    ) -> list[Message]:
        """`owner`'s user/assistant messages matching `text` (full-text, any case), best first.

        Ownership comes from a join on `threads.owner`, so no other owner's message can match.
        """
        async with transaction(self._engine) as connection:
            rows = await matching_messages(
                connection, owner, text, limit=limit, exclude_run_id=exclude_run_id
            )
        return [message_from_row(row) for row in rows]
