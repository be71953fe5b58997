"""Migration 0004 (search) indexes the messages and titles a database already holds, and can be
undone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import create_engine, transaction
from graphchat.store.migrate import downgrade, upgrade

_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_OLD_ROWS = (
    ("m1", 1, "user", "When do tomatoes ripen?"),
    ("m2", 2, "assistant", "Late summer, usually."),
    ("m3", 3, "tool", "tomatoes tool output"),
)


async def _fill_at_0003(database_url: str) -> None:
    """Rows the way release 0003 stored them (its columns, written with plain SQL)."""
    engine = create_engine(Settings(database_url=database_url).database)
    try:
        await downgrade(engine, "base")  # the session's PostgreSQL database may be at head
        await upgrade(engine, "0003")
        async with transaction(engine, write=True) as connection:
            await connection.execute(
                text(
                    "INSERT INTO threads (id, owner, title, model, metadata, created_at, "
                    "updated_at) VALUES ('old', 'alice', 'Gardening notes', NULL, '{}', :at, :at)"
                ),
                {"at": _AT},
            )
            for message_id, seq, role, content in _OLD_ROWS:
                await connection.execute(
                    text(
                        "INSERT INTO messages (id, thread_id, seq, run_id, role, content, status, "
                        "cached, created_at) VALUES (:id, 'old', :seq, 'run-1', :role, :content, "
                        "'complete', false, :at)"
                    ),
                    {"id": message_id, "seq": seq, "role": role, "content": content, "at": _AT},
                )
    finally:
        await engine.dispose()


async def test_existing_rows_are_searchable_after_the_upgrade(database_url: str) -> None:
    await _fill_at_0003(database_url)

    store = await Store.open(Settings(database_url=database_url).database)  # migrates to the head
    try:
        hits = await store.search.messages("alice", "tomatoes", limit=10)
        titles = await store.search.titles("alice", "gardening", limit=10)
        bob = await store.search.messages("bob", "tomatoes", limit=10)
    finally:
        await store.close()

    assert [(h.thread_id, h.role, h.snippet) for h in hits.items] == [
        ("old", "user", "When do <mark>tomatoes</mark> ripen?")
    ]
    assert [(t.thread_id, t.snippet) for t in titles] == [("old", "<mark>Gardening</mark> notes")]
    assert bob.items == []


async def test_the_upgrade_can_be_undone_and_redone(database_url: str) -> None:
    await _fill_at_0003(database_url)
    store = await Store.open(Settings(database_url=database_url).database)
    try:
        await downgrade(store.engine, "0003")
        await upgrade(store.engine)
        hits = await store.search.messages("alice", "summer", limit=10)
    finally:
        await store.close()

    assert [h.role for h in hits.items] == ["assistant"]
