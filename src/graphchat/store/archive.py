"""Imported conversations written whole: a thread and all its messages in one transaction,
keeping their ids, sequence numbers and timestamps (fresh ids when the old ones are taken)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.errors import Conflict
from graphchat.store.database import transaction
from graphchat.store.records import Message, Thread
from graphchat.store.tables import MessageRow, ThreadRow

_THREAD = cast(Table, ThreadRow.__table__)
_MESSAGE = cast(Table, MessageRow.__table__)


def _renumbered(thread: Thread, messages: Sequence[Message]) -> tuple[Thread, list[Message]]:
    """The conversation under new ids; run ids are dropped (those runs are not imported)."""
    fresh = replace(thread, id=str(uuid.uuid4()))
    return fresh, [
        replace(message, id=str(uuid.uuid4()), thread_id=fresh.id, run_id=None)
        for message in messages
    ]


class ArchiveRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_conversation(self, thread: Thread, messages: Sequence[Message]) -> Thread:
        """Store a thread with its messages, all or nothing; the stored thread is returned (its
        id differs from `thread.id` when that id, or one of the message ids, was taken)."""
        try:
            return await self._insert(thread, messages)
        except IntegrityError as exc:  # an id taken between the check and the insert
            raise Conflict("the conversation's ids are taken; import it again") from exc

    async def _insert(self, thread: Thread, messages: Sequence[Message]) -> Thread:
        async with transaction(self._engine, write=True) as connection:
            taken = (
                await connection.execute(select(_THREAD.c.id).where(_THREAD.c.id == thread.id))
            ).first() is not None
            if not taken and messages:
                ids = [message.id for message in messages]
                found = await connection.execute(
                    select(_MESSAGE.c.id).where(_MESSAGE.c.id.in_(ids))
                )
                taken = found.first() is not None
            if taken:
                thread, messages = _renumbered(thread, messages)
            row = asdict(thread)
            await connection.execute(insert(_THREAD).values(row))
            if messages:
                await connection.execute(insert(_MESSAGE), [asdict(m) for m in messages])
        return thread
