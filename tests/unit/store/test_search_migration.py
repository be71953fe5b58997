"""Migration 0004 (search) indexes the messages and titles a database already holds, and can be
undone."""

from __future__ import annotations

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.migrate import downgrade, upgrade
from support.old_release import fill_at

_OLD_ROWS = (
    ("m1", 1, "user", "When do tomatoes ripen?"),
    ("m2", 2, "assistant", "Late summer, usually."),
    ("m3", 3, "tool", "tomatoes tool output"),
)


async def test_existing_rows_are_searchable_after_the_upgrade(database_url: str) -> None:
    await fill_at(database_url, "0003", "Gardening notes", _OLD_ROWS)

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
    await fill_at(database_url, "0003", "Gardening notes", _OLD_ROWS)
    store = await Store.open(Settings(database_url=database_url).database)
    try:
        await downgrade(store.engine, "0003")
        await upgrade(store.engine)
        hits = await store.search.messages("alice", "summer", limit=10)
    finally:
        await store.close()

    assert [h.role for h in hits.items] == ["assistant"]
