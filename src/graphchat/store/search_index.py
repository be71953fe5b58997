"""SQLite's full-text index of messages, filled in batches after the turns that store them.

Migration 0010 took indexing out of the turn's transaction: FTS5 writes a segment for every
transaction that adds to it, ~0.2 ms of CPU and ten WAL pages per turn. Messages are indexed by
rowid up to a high-water mark (`messages_fts_progress.upto`), a batch at a time: in the
background every `INTERVAL_SECONDS`, and before every search, so a search finds every message
stored before it. PostgreSQL indexes in the inserting statement and has nothing to catch up.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import text

from graphchat.store.database import run_transaction

INTERVAL_SECONDS = 1.0
# Rowids per transaction: the file's write lock is held ~1.5 ms for 500 short messages here
# (7 ms for 1,000, 14 for 2,000), and a turn's write queued meanwhile goes before the next batch.
BATCH_ROWS = 500

_PROGRESS = text(
    "SELECT upto, (SELECT coalesce(max(rowid), 0) FROM messages) FROM messages_fts_progress"
)
_INDEX = text(
    "INSERT INTO messages_fts(rowid, content) SELECT rowid, content FROM messages"
    " WHERE rowid > :upto AND rowid <= :until AND role IN ('user', 'assistant')"
)
_MARK = text("UPDATE messages_fts_progress SET upto = :until")


def _progress(connection: Connection) -> tuple[int, int]:
    """The mark, and the newest message's rowid."""
    upto, newest = connection.execute(_PROGRESS).one()
    return int(upto), int(newest)


def index_batch(connection: Connection) -> bool:
    """Index the next `BATCH_ROWS` rowids past the mark and move it; True while more remain.
    Run in a write transaction: the mark is read under the file's write lock, so two writers
    never index a row twice."""
    upto, newest = _progress(connection)
    until = min(newest, upto + BATCH_ROWS)
    if until <= upto:
        return False
    connection.execute(_INDEX, {"upto": upto, "until": until})
    connection.execute(_MARK, {"until": until})
    return until < newest


def index_all(connection: Connection) -> None:
    """Index every message past the mark, in this transaction (a seeded database)."""
    while index_batch(connection):
        pass


class SearchIndex:
    """Brings the message index up to the newest message (SQLite; nothing on PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.batched = engine.dialect.name == "sqlite"

    async def catch_up(self) -> None:
        """Index every message stored so far; one short read when there is nothing to do."""
        if not self.batched:
            return
        upto, newest = await run_transaction(self._engine, _progress, short=True)
        if upto >= newest:
            return
        while await run_transaction(self._engine, index_batch, write=True, bulk=True):
            pass
