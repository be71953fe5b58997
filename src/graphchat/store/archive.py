"""Imported conversations written whole: a thread and all its messages in one transaction,
keeping their ids, sequence numbers and timestamps (fresh ids when the old ones are taken)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from graphchat.errors import Conflict
from graphchat.store.database import transaction
from graphchat.store.messages import message_from_row
from graphchat.store.records import Message, Thread
from graphchat.store.repository import Repository
from graphchat.store.tables import MESSAGES, THREADS


def _renumbered(
    thread: Thread, messages: Sequence[Message], leaf_id: str | None
) -> tuple[Thread, list[Message], str | None]:
    """The conversation under new ids (parents and leaf following); run ids are dropped (those
    runs are not imported)."""
    fresh = replace(thread, id=str(uuid.uuid4()))
    new_ids = {message.id: str(uuid.uuid4()) for message in messages}
    renamed = [
        replace(
            message,
            id=new_ids[message.id],
            thread_id=fresh.id,
            run_id=None,
            parent_id=new_ids.get(message.parent_id or ""),
        )
        for message in messages
    ]
    return fresh, renamed, new_ids.get(leaf_id or "")


class ArchiveRepository(Repository):
    async def conversation(self, thread_id: str) -> tuple[list[Message], str | None]:
        """Every message of the thread (all branches) by sequence number, and its leaf."""
        async with transaction(self._engine) as connection:
            rows = await connection.execute(
                select(MESSAGES).where(MESSAGES.c.thread_id == thread_id).order_by(MESSAGES.c.seq)
            )
            messages = [message_from_row(row) for row in rows.all()]
            leaf = await connection.execute(
                select(THREADS.c.leaf_message_id).where(THREADS.c.id == thread_id)
            )
            return messages, leaf.scalar_one_or_none()

    async def insert_conversation(
        self, thread: Thread, messages: Sequence[Message], leaf_id: str | None = None
    ) -> Thread:
        """Store a thread with its messages, all or nothing; the stored thread is returned (its
        id differs from `thread.id` when that id, or one of the message ids, was taken)."""
        try:
            return await self._insert(thread, messages, leaf_id)
        except IntegrityError as exc:  # an id taken between the check and the insert
            raise Conflict("the conversation's ids are taken; import it again") from exc

    async def _insert(
        self, thread: Thread, messages: Sequence[Message], leaf_id: str | None
    ) -> Thread:
        async with transaction(self._engine, write=True) as connection:
            taken = (
                await connection.execute(select(THREADS.c.id).where(THREADS.c.id == thread.id))
            ).first() is not None
            if not taken and messages:
                ids = [message.id for message in messages]
                found = await connection.execute(
                    select(MESSAGES.c.id).where(MESSAGES.c.id.in_(ids))
                )
                taken = found.first() is not None
            if taken:
                thread, messages, leaf_id = _renumbered(thread, messages, leaf_id)
            row = {**asdict(thread), "leaf_message_id": leaf_id}
            await connection.execute(insert(THREADS).values(row))
            if messages:
                await connection.execute(insert(MESSAGES), [asdict(m) for m in messages])
        return thread
