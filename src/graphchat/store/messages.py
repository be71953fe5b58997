"""The append-only message log: INSERTs with per-thread sequence numbers, pages by sequence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphchat.store.branches import branch_rows, chain_parents, current_leaf, set_leaf
from graphchat.store.database import transaction
from graphchat.store.records import Message, NewMessage, Page
from graphchat.store.tables import MessageRow, ThreadRow
from graphchat.store.threads import utcnow

_MESSAGE = cast(Table, MessageRow.__table__)
_THREAD = cast(Table, ThreadRow.__table__)
_SEARCHED_ROLES = ("user", "assistant")
_COLUMNS = tuple(column.name for column in _MESSAGE.columns)


def message_from_row(row: Row[Any]) -> Message:
    return Message(**{name: row._mapping[name] for name in _COLUMNS})


async def append_messages(
    connection: AsyncConnection,
    thread_id: str,
    run_id: str | None,
    messages: Sequence[NewMessage],
    last_seq: int | None = None,
) -> list[Message]:
    """INSERT `messages` after the thread's last one (`last_seq`, looked up when not known).

    Never touches earlier rows; the unique (thread_id, seq) key refuses a stale `last_seq`.
    The messages continue the thread's current branch, whose leaf moves to the last of them.
    """
    if not messages:
        return []
    last = last_seq
    if last is None:
        last = (
            await connection.execute(
                select(func.max(_MESSAGE.c.seq)).where(_MESSAGE.c.thread_id == thread_id)
            )
        ).scalar_one_or_none() or 0
    now = utcnow()
    rows = [
        {
            **asdict(message),
            "id": message.id or str(uuid.uuid4()),
            "thread_id": thread_id,
            "seq": last + offset,
            "run_id": run_id,
            "created_at": now,
        }
        for offset, message in enumerate(messages, start=1)
    ]
    chain_parents(rows, await current_leaf(connection, thread_id))
    await connection.execute(insert(_MESSAGE), rows)
    await set_leaf(connection, thread_id, rows[-1]["id"])
    return [Message(**row) for row in rows]


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
    ) -> Page[Message]:
        """A page of the current branch by sequence number; `before`/`after` are exclusive."""
        async with transaction(self._engine) as connection:
            rows = await branch_rows(
                connection,
                thread_id,
                limit=limit,
                offset=offset,
                before=before,
                after=after,
                order=order,
            )
        return Page(
            items=[message_from_row(row) for row in rows[:limit]], has_more=len(rows) > limit
        )

    async def of_run(self, run_id: str) -> list[Message]:
        """Every message a run stored (its input and its output), in order."""
        query = select(_MESSAGE).where(_MESSAGE.c.run_id == run_id).order_by(_MESSAGE.c.seq)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [message_from_row(row) for row in rows]

    async def recent(self, thread_id: str, limit: int) -> list[Message]:
        """The last `limit` messages of a thread, oldest first."""
        page = await self.page(thread_id, limit=limit, order="desc")
        return page.items[::-1]

    async def search(
        self, owner: str, text: str, *, limit: int, exclude_run_id: str | None = None
    ) -> list[Message]:
        """`owner`'s user/assistant messages containing `text` (any case), newest first.

        Ownership comes from a join on `threads.owner`, so no other owner's message can match.
        """
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(_MESSAGE)
            .join(_THREAD, _THREAD.c.id == _MESSAGE.c.thread_id)
            .where(
                _THREAD.c.owner == owner,
                _MESSAGE.c.role.in_(_SEARCHED_ROLES),
                _MESSAGE.c.content.ilike(f"%{escaped}%", escape="\\"),
            )
            .order_by(_MESSAGE.c.created_at.desc(), _MESSAGE.c.seq.desc())
            .limit(limit)
        )
        if exclude_run_id is not None:
            query = query.where(
                (_MESSAGE.c.run_id.is_(None)) | (_MESSAGE.c.run_id != exclude_run_id)
            )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [message_from_row(row) for row in rows]
