"""Messages are indexed for search after their turn (migration 0010, store/search_index.py): a
turn's transaction leaves the index alone, a search catches it up first, and a delete keeps the
index and its high-water mark true when SQLite hands a deleted message's rowid to a new one."""

from __future__ import annotations

import pytest

from graphchat.store import Store
from graphchat.store.migrate import downgrade, upgrade
from graphchat.store.records import NewMessage, NewThread
from graphchat.store.search_index import BATCH_ROWS
from support.sqlite_index import indexed


async def _say(store: Store, thread_id: str, *texts: str) -> None:
    await store.threads.create(NewThread(id=thread_id, owner="alice"))
    messages = [NewMessage(role="user", content=text) for text in texts]
    await store.runs.append(thread_id, f"run-{thread_id}", messages)


async def _found(store: Store, word: str) -> list[str]:
    hits = await store.search.messages("alice", word, limit=10)
    return sorted(hit.thread_id for hit in hits.items)


def _indexed(store: Store, word: str) -> int:
    return indexed(str(store.engine.url), word)


def _on_sqlite(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL indexes in the inserting statement")


async def test_a_turn_leaves_indexing_until_after_it(store: Store) -> None:
    _on_sqlite(store)
    await _say(store, "t", "zebra crossing", "another zebra")

    before = _indexed(store, "zebra")
    await store.search_index.catch_up()
    after = _indexed(store, "zebra")

    assert (before, after) == (0, 2)


async def test_a_search_finds_every_message_stored_before_it(store: Store) -> None:
    await _say(store, "first", "quince jam")
    assert await _found(store, "quince") == ["first"]

    await _say(store, "second", "quince tart")  # past the index's mark on SQLite

    assert await _found(store, "quince") == ["first", "second"]


@pytest.mark.parametrize("indexed_first", [True, False])
async def test_a_new_message_in_a_deleted_one_s_place_is_found(
    store: Store, indexed_first: bool
) -> None:
    await _say(store, "kept", "alpha notes")
    await _say(store, "gone", "bravo notes", "bravo again")
    if indexed_first:  # the deleted messages are below the mark, else above it
        await store.search_index.catch_up()

    await store.threads.delete("alice", "gone")
    await _say(store, "new", "charlie notes", "charlie again")  # SQLite reuses gone's rowids

    assert await _found(store, "charlie") == ["new", "new"]
    assert await _found(store, "bravo") == []
    assert await _found(store, "notes") == ["kept", "new"]


async def test_the_batches_can_be_undone_and_redone(store: Store) -> None:
    _on_sqlite(store)
    await _say(store, "t", "yak wool")  # not indexed yet

    await downgrade(store.engine, "0009")
    on_downgrade = _indexed(store, "yak")
    await store.runs.append("t", "run-2", [NewMessage(role="user", content="yak milk")])
    with_trigger = _indexed(store, "yak")  # 0004's trigger indexes in the turn again
    await upgrade(store.engine)
    await _say(store, "u", "yak butter")

    assert (on_downgrade, with_trigger, _indexed(store, "yak")) == (1, 2, 2)
    assert await _found(store, "yak") == ["t", "t", "u"]


async def test_a_backlog_larger_than_a_batch_is_indexed_whole(store: Store) -> None:
    _on_sqlite(store)
    count = 2 * BATCH_ROWS + 100
    await _say(store, "t", *[f"walrus number {index}" for index in range(count)])

    await store.search_index.catch_up()

    assert _indexed(store, "walrus") == count
