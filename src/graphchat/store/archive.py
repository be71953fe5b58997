"""Imported conversations written whole: a thread and all its messages in one transaction,
keeping their ids, sequence numbers and timestamps (fresh ids when the old ones are taken)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from graphchat.errors import Conflict
from graphchat.ids import new_id
from graphchat.store.database import run_transaction
from graphchat.store.messages import message_from_row
from graphchat.store.records import Message, Thread
from graphchat.store.repository import Repository
from graphchat.store.tables import MESSAGES, THREADS


def _renumbered(
    thread: Thread, messages: Sequence[Message], leaf_id: str | None
) -> tuple[Thread, list[Message], str | None]:
    """The conversation under new ids (parents and leaf following); run ids are dropped (those
    runs are not imported)."""
    fresh = replace(thread, id=new_id())
    new_ids = {message.id: new_id() for message in messages}
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


def _taken(connection: Connection, thread: Thread, messages: Sequence[Message]) -> bool:
    """Whether the thread's id, or one of its messages' ids, is already stored."""
    if connection.execute(select(THREADS.c.id).where(THREADS.c.id == thread.id)).first():
        return True
    ids = [message.id for message in messages]
    return bool(ids) and bool(
        connection.execute(select(MESSAGES.c.id).where(MESSAGES.c.id.in_(ids))).first()
    )


class ArchiveRepository(Repository):
    async def conversation(self, thread_id: str) -> tuple[list[Message], str | None]:
        """Every message of the thread (all branches) by sequence number, and its leaf."""
        by_seq = select(MESSAGES).where(MESSAGES.c.thread_id == thread_id).order_by(MESSAGES.c.seq)
        leaf = select(THREADS.c.leaf_message_id).where(THREADS.c.id == thread_id)

        def read(connection: Connection) -> tuple[list[Message], str | None]:
            messages = [message_from_row(row) for row in connection.execute(by_seq)]
            return messages, connection.execute(leaf).scalar_one_or_none()

        return await run_transaction(self._engine, read)

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
        def store(connection: Connection) -> Thread:
            fresh, rows, leaf = thread, messages, leaf_id
            if _taken(connection, thread, messages):
                fresh, rows, leaf = _renumbered(thread, messages, leaf_id)
            connection.execute(insert(THREADS).values({**asdict(fresh), "leaf_message_id": leaf}))
            if rows:
                connection.execute(insert(MESSAGES), [asdict(m) for m in rows])
            return fresh

        # `bulk`: an imported conversation may hold thousands of messages.
        return await run_transaction(self._engine, store, write=True, bulk=True)
