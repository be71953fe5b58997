"""Migration 0012 (SQLite): a thread's title is indexed again only when it changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.migrate import downgrade, upgrade
from graphchat.store.records import NewThread

_TOUCH = "UPDATE threads SET title = ?, updated_at = updated_at WHERE id = 't'"


def _changes_of(path: Path, title: str) -> int:
    """Rows the UPDATE changed, the title index's shadow tables' included."""
    with sqlite3.connect(path) as connection:
        before = connection.total_changes
        connection.execute(_TOUCH, (title,))
        return connection.total_changes - before


async def test_a_title_written_unchanged_is_not_indexed_again(tmp_path: Path) -> None:
    path = tmp_path / "graphchat.db"
    store = await Store.open(Settings(database_url=f"sqlite:///{path}").database)
    try:
        await store.threads.create(NewThread(id="t", owner="alice", title="Tomato notes"))
        same = _changes_of(path, "Tomato notes")
        renamed = _changes_of(path, "Pepper notes")
        peppers = await store.search.titles("alice", "pepper", limit=10)
        tomatoes = await store.search.titles("alice", "tomato", limit=10)
        await downgrade(store.engine, "0011")
        same_before_0012 = _changes_of(path, "Pepper notes")
        await upgrade(store.engine)
        same_again = _changes_of(path, "Pepper notes")
    finally:
        await store.close()

    assert same == 1 < renamed  # the thread's row alone; with a new title, the index too
    assert [t.thread_id for t in peppers] == ["t"] and tomatoes == []
    assert same_before_0012 == renamed and same_again == 1
