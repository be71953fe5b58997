"""Begin's reads where it reads (runs.py): the thread, whether it has a paused run to close,
its last sequence number, and the context window where the turn continues."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, exists, select
from sqlalchemy.engine import Connection, Row

from graphchat.store.branches import BranchPoint
from graphchat.store.messages import highest_seq, tail_of, window
from graphchat.store.pauses import NEW_TURN_REASON, PAUSED, close_pauses
from graphchat.store.records import Message, Tail
from graphchat.store.tables import RUNS, THREADS
from graphchat.store.window_cache import WindowCache


def _thread_and_pause() -> Any:
    """The thread, whether it has a paused run to close, and its highest message number."""
    thread_id = bindparam("thread_id", type_=String)
    paused = exists().where(RUNS.c.thread_id == thread_id, PAUSED)
    highest = highest_seq(thread_id)
    return select(THREADS, paused.label("paused"), highest.label("last_seq")).where(
        THREADS.c.id == thread_id
    )


# A turn's statements are built once: building one costs about as much CPU as running it.
THREAD_AND_PAUSE = _thread_and_pause()


def read_thread(connection: Connection, thread_id: str) -> Row[Any] | None:
    """The thread with whether it has a paused run and its highest message number."""
    return connection.execute(THREAD_AND_PAUSE, {"thread_id": thread_id}).first()


class NeedsTransaction(Exception):
    """This begin takes several writes (a paused run to close first). `row` is the thread as
    read; the transaction need not read it again."""

    def __init__(self, row: Row[Any]) -> None:
        super().__init__()
        self.row = row


def _autocommit(connection: Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def continued(
    connection: Connection,
    row: Any,
    branch: BranchPoint | None,
    history: int,
    windows: WindowCache,
) -> tuple[list[Message], Tail]:
    """An existing thread's context window and where a turn's messages go: after the leaf, or
    after the branch point of a regenerate/edit. The window comes from `windows` when this
    process wrote the turn that ended there."""
    tail = Tail(row.last_seq, row.leaf_message_id)
    if row.paused:  # its calls get "not run" answers, which move the leaf
        if _autocommit(connection):
            raise NeedsTransaction(row)
        close_pauses(connection, NEW_TURN_REASON, thread_id=row.id)
        tail = tail_of(connection, row.id)
    if branch is not None:
        tail = Tail(tail.seq, branch.parent_id)
    if tail.leaf_id is None:
        return [], tail
    limit = max(history, 1)
    known = windows.get(row.id, row.created_at, tail.leaf_id, limit)
    return (known if known is not None else window(connection, tail.leaf_id, limit)), tail
