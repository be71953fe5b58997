"""Bulk seeding of threads and messages straight into a migrated database (not through the API).

Rows follow `graphchat.store.tables`: per-thread `seq` from 1, owner `local` (auth off), distinct
`updated_at` per thread. SQLite gets one `executemany` transaction, PostgreSQL `COPY`; both are
`ANALYZE`d afterwards, as a long-running database would be by autovacuum.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import asyncpg

OWNER = "local"
MODEL = "llama3.2:latest"
_BASE = datetime(2026, 1, 1, tzinfo=UTC)
_THREAD_COLUMNS = ("id", "owner", "title", "model", "metadata", "created_at", "updated_at")
_MESSAGE_COLUMNS = ("id", "thread_id", "seq", "role", "content", "status", "cached", "created_at")
_BATCH = 20_000
# SQLAlchemy's storage format for DateTime on SQLite (naive UTC text).
_SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"


def _thread_rows(threads: list[tuple[str, int]]) -> Iterator[tuple[Any, ...]]:
    for index, (thread_id, _) in enumerate(threads):
        stamp = _BASE + timedelta(milliseconds=index)
        yield (thread_id, OWNER, f"thread {index}", MODEL, "{}", stamp, stamp)


Content = Callable[[str, int], str]


def ordinary_text(thread_id: str, seq: int) -> str:
    return f"message {seq} of {thread_id}: some ordinary chat text to page through."


def _message_rows(threads: list[tuple[str, int]], text: Content) -> Iterator[tuple[Any, ...]]:
    for thread_id, count in threads:
        for seq in range(1, count + 1):
            role = "user" if seq % 2 else "assistant"
            stamp = _BASE + timedelta(milliseconds=seq)
            content = text(thread_id, seq)
            yield (str(uuid.uuid4()), thread_id, seq, role, content, "complete", False, stamp)


def _batches(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        value.astimezone(UTC).strftime(_SQLITE_STAMP) if isinstance(value, datetime) else value
        for value in row
    )


def _seed_sqlite(path: str, threads: list[tuple[str, int]], text: Content) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        for table, columns, rows in (
            ("threads", _THREAD_COLUMNS, _thread_rows(threads)),
            ("messages", _MESSAGE_COLUMNS, _message_rows(threads, text)),
        ):
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            for batch in _batches(rows):
                connection.executemany(sql, [_sqlite_row(row) for row in batch])
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def _seed_postgres(url: str, threads: list[tuple[str, int]], text: Content) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table, columns, rows in (
            ("threads", _THREAD_COLUMNS, _thread_rows(threads)),
            ("messages", _MESSAGE_COLUMNS, _message_rows(threads, text)),
        ):
            for batch in _batches(rows):
                await connection.copy_records_to_table(table, records=batch, columns=columns)
        await connection.execute("ANALYZE threads")
        await connection.execute("ANALYZE messages")
    finally:
        await connection.close()


def seed(database_url: str, threads: list[tuple[str, int]], text: Content = ordinary_text) -> None:
    """Insert `threads` (id, number of messages) with their messages into a migrated database;
    `text(thread_id, seq)` writes each message."""
    if database_url.startswith("sqlite"):
        _seed_sqlite(database_url.split(":///", 1)[1], threads, text)
    else:
        asyncio.run(_seed_postgres(database_url, threads, text))
