"""Bulk seeding of threads and messages straight into a migrated database (not through the API).

Rows follow `graphchat.store.tables`: per-thread `seq` from 1, owner `local` (auth off). Threads are
written one after another and every message a millisecond after the one before, as a live service
stores them: creation times follow insertion order, no two messages share one, and a thread's
`created_at`/`updated_at` are its first and last message's. SQLite gets one `executemany`
transaction, PostgreSQL `COPY`; both are `ANALYZE`d afterwards, as a long-running database would
be by autovacuum. PostgreSQL's tables are vacuumed too: a `COPY` of a million rows leaves their
visibility unset and makes autovacuum due, and its pass over them (seconds of a core) otherwise
runs while the benchmark measures.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import asyncpg
import sqlalchemy

from graphchat.store.search_index import index_all

OWNER = "local"
MODEL = "llama3.2:latest"
_BASE = datetime(2026, 1, 1, tzinfo=UTC)
_THREAD_COLUMNS = (
    "id",
    "owner",
    "title",
    "model",
    "metadata",
    "created_at",
    "updated_at",
    "leaf_message_id",
)
_MESSAGE_COLUMNS = (
    "id",
    "thread_id",
    "seq",
    "parent_id",
    "role",
    "content",
    "status",
    "cached",
    "created_at",
)
_IDS = uuid.UUID("6d1f4b0e-6f0a-4c55-9a53-0c4c1a0e2b7d")
_BATCH = 20_000
# SQLAlchemy's storage format for DateTime on SQLite (naive UTC text).
_SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"


Content = Callable[[str, int], str]
# A thread id, its messages on the current branch, its first row's offset (ms), its rows.
_Span = tuple[str, int, int, int]


def ordinary_text(thread_id: str, position: int) -> str:
    return f"message {position} of {thread_id}: some ordinary chat text to page through."


@dataclass(frozen=True, slots=True)
class Branched:
    """Threads seeded with abandoned replies: one every `every` user messages."""

    threads: frozenset[str] = frozenset()
    every: int = 0


def _id(thread_id: str, position: int, abandoned: bool = False) -> str:
    return str(uuid.uuid5(_IDS, f"{thread_id}/{position}/{abandoned}"))


def _starts(threads: list[tuple[str, int]], branched: Branched) -> Iterator[_Span]:
    """Each thread with its message count, its first row's offset (ms) from `_BASE` and its rows
    (the abandoned replies of a branched thread included)."""
    start = 0
    for thread_id, count in threads:
        every = branched.every if thread_id in branched.threads else 0
        rows = count + (count // (2 * every) if every else 0)
        yield thread_id, count, start, rows
        start += rows


def _thread_rows(threads: list[tuple[str, int]], branched: Branched) -> Iterator[tuple[Any, ...]]:
    for index, (thread_id, count, start, rows) in enumerate(_starts(threads, branched)):
        created = _BASE + timedelta(milliseconds=start)
        updated = created + timedelta(milliseconds=max(rows - 1, 0))
        leaf = _id(thread_id, count) if count else None
        yield (thread_id, OWNER, f"thread {index}", MODEL, "{}", created, updated, leaf)


def _message_rows(
    threads: list[tuple[str, int]], branched: Branched, text: Content
) -> Iterator[tuple[Any, ...]]:
    """`count` messages on each thread's current branch; in `branched` threads, every
    `branched.every` user messages also got a reply regenerated since (a sibling off the branch)."""
    for thread_id, count, start, _rows in _starts(threads, branched):
        branch_every = branched.every if thread_id in branched.threads else 0
        seq = 0
        for position in range(1, count + 1):
            role = "user" if position % 2 else "assistant"
            parent = _id(thread_id, position - 1) if position > 1 else None
            content = text(thread_id, position)
            if role == "assistant" and branch_every and position % (2 * branch_every) == 0:
                seq += 1
                stamp = _BASE + timedelta(milliseconds=start + seq - 1)
                abandoned = _id(thread_id, position, abandoned=True)
                yield (abandoned, thread_id, seq, parent, role, content, "complete", False, stamp)
            seq += 1
            stamp = _BASE + timedelta(milliseconds=start + seq - 1)
            yield (
                _id(thread_id, position),
                thread_id,
                seq,
                parent,
                role,
                content,
                "complete",
                False,
                stamp,
            )


def _batches(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        value.astimezone(UTC).strftime(_SQLITE_STAMP) if isinstance(value, datetime) else value
        for value in row
    )


def _seed_sqlite(
    path: str, threads: list[tuple[str, int]], branched: Branched, text: Content
) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        for table, columns, rows in (
            ("threads", _THREAD_COLUMNS, _thread_rows(threads, branched)),
            ("messages", _MESSAGE_COLUMNS, _message_rows(threads, branched, text)),
        ):
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            for batch in _batches(rows):
                connection.executemany(sql, [_sqlite_row(row) for row in batch])
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    _index_for_search(path)


def _index_for_search(path: str) -> None:
    """Index the seeded messages for search, as a running server's indexer would have."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            index_all(connection)
    finally:
        engine.dispose()


async def _seed_postgres(
    url: str, threads: list[tuple[str, int]], branched: Branched, text: Content
) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table, columns, rows in (
            ("threads", _THREAD_COLUMNS, _thread_rows(threads, branched)),
            ("messages", _MESSAGE_COLUMNS, _message_rows(threads, branched, text)),
        ):
            for batch in _batches(rows):
                await connection.copy_records_to_table(table, records=batch, columns=columns)
        await connection.execute("VACUUM (ANALYZE) threads")
        await connection.execute("VACUUM (ANALYZE) messages")
    finally:
        await connection.close()


def seed(
    database_url: str,
    threads: list[tuple[str, int]],
    branched: Branched | None = None,
    text: Content = ordinary_text,
) -> None:
    """Insert `threads` (id, messages on the current branch) into a migrated database;
    `text(thread_id, position)` writes each message."""
    branched = branched or Branched()
    if database_url.startswith("sqlite"):
        _seed_sqlite(database_url.split(":///", 1)[1], threads, branched, text)
    else:
        asyncio.run(_seed_postgres(database_url, threads, branched, text))
