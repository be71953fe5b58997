"""A database at an older revision holding rows written with plain SQL, the way that release
stored them, for migration tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text

from graphchat.settings import Settings
from graphchat.store.database import create_engine, transaction
from graphchat.store.migrate import downgrade, upgrade

STAMP = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# (id, seq, role, content) of messages in alice's thread "old"
Rows = Sequence[tuple[str, int, str, str]]


async def fill_at(database_url: str, revision: str, title: str, rows: Rows) -> None:
    """Alice's thread "old" titled `title` with `rows`, in a database at `revision`."""
    engine = create_engine(Settings(database_url=database_url).database)
    try:
        await downgrade(engine, "base")  # the session's PostgreSQL database may be at head
        await upgrade(engine, revision)
        async with transaction(engine, write=True) as connection:
            await connection.execute(
                text(
                    "INSERT INTO threads (id, owner, title, model, metadata, created_at, "
                    "updated_at) VALUES ('old', 'alice', :title, NULL, '{}', :at, :at)"
                ),
                {"at": STAMP, "title": title},
            )
            for message_id, seq, role, content in rows:
                await connection.execute(
                    text(
                        "INSERT INTO messages (id, thread_id, seq, run_id, role, content, status, "
                        "cached, created_at) VALUES (:id, 'old', :seq, 'run-1', :role, :content, "
                        "'complete', false, :at)"
                    ),
                    {"id": message_id, "seq": seq, "role": role, "content": content, "at": STAMP},
                )
    finally:
        await engine.dispose()
