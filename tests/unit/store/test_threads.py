"""The threads repository: create, read, page by activity with its cursor, update, delete."""

from __future__ import annotations

import pytest

from graphchat.errors import Conflict, InvalidRequest, NotFound
from graphchat.store import Store
from graphchat.store.records import MessageWindow, NewMessage, NewThread


async def _create(store: Store, owner: str, *ids: str) -> None:
    for thread_id in ids:
        await store.threads.create(NewThread(id=thread_id, owner=owner))


async def test_a_created_thread_reads_back_with_its_fields(store: Store) -> None:
    created = await store.threads.create(
        NewThread(id="t1", owner="alice", title="Hi", model="m", metadata={"k": 1})
    )

    read = await store.threads.get("alice", "t1")

    assert read == created
    assert (read.title, read.model, read.metadata) == ("Hi", "m", {"k": 1})


async def test_a_taken_id_is_a_conflict_even_for_another_owner(store: Store) -> None:
    await _create(store, "alice", "t1")

    with pytest.raises(Conflict):
        await store.threads.create(NewThread(id="t1", owner="bob"))


async def test_another_owners_thread_is_not_found(store: Store) -> None:
    await _create(store, "alice", "t1")

    with pytest.raises(NotFound):
        await store.threads.get("bob", "t1")
    with pytest.raises(NotFound):
        await store.threads.update("bob", "t1", {"title": "mine"})
    with pytest.raises(NotFound):
        await store.threads.delete("bob", "t1")
    assert (await store.threads.get("alice", "t1")).title is None


async def test_pages_follow_their_cursor_through_every_thread_most_recent_first(
    store: Store,
) -> None:
    await _create(store, "alice", "a", "b", "c", "d", "e")
    await _create(store, "bob", "x")
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        page = await store.threads.page("alice", limit=2, cursor=cursor)
        seen += [thread.id for thread in page.items]
        cursor = page.next_cursor
        assert (cursor is not None) == page.has_more
        if cursor is None:
            break

    assert seen == ["e", "d", "c", "b", "a"]


async def test_the_last_page_has_no_cursor(store: Store) -> None:
    await _create(store, "alice", "a", "b")

    page = await store.threads.page("alice", limit=2)

    assert [t.id for t in page.items] == ["b", "a"]
    assert (page.has_more, page.next_cursor) == (False, None)


async def test_offset_skips_threads(store: Store) -> None:
    await _create(store, "alice", "a", "b", "c")

    page = await store.threads.page("alice", limit=5, offset=1)

    assert [t.id for t in page.items] == ["b", "a"]


async def test_a_cursor_the_server_did_not_issue_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await store.threads.page("alice", limit=2, cursor="not-a-cursor")

    assert refused.value.code == "invalid_cursor"


async def test_a_new_message_moves_its_thread_to_the_front(store: Store) -> None:
    await _create(store, "alice", "old", "new")

    await store.runs.append("old", "r1", [NewMessage(role="user", content="hello")])

    page = await store.threads.page("alice", limit=5)
    assert [t.id for t in page.items] == ["old", "new"]


async def test_update_merges_metadata_and_a_null_value_removes_a_key(store: Store) -> None:
    await store.threads.create(NewThread(id="t1", owner="alice", metadata={"a": 1, "b": 2}))

    updated = await store.threads.update(
        "alice", "t1", {"title": "T", "metadata": {"b": None, "c": 3}}
    )

    assert updated.title == "T"
    assert updated.metadata == {"a": 1, "c": 3}
    assert updated.updated_at >= updated.created_at


async def test_update_leaves_fields_it_is_not_given(store: Store) -> None:
    await store.threads.create(NewThread(id="t1", owner="alice", title="T", model="m"))

    updated = await store.threads.update("alice", "t1", {"model": None})

    assert (updated.title, updated.model) == ("T", None)


async def test_delete_removes_the_thread_and_its_messages(store: Store) -> None:
    await _create(store, "alice", "t1")
    await store.runs.append("t1", "r1", [NewMessage(role="user", content="hello")])

    await store.threads.delete("alice", "t1")

    with pytest.raises(NotFound):
        await store.threads.get("alice", "t1")
    assert (await store.messages.page("t1", MessageWindow(limit=5))).items == []
    await store.threads.create(NewThread(id="t1", owner="alice"))  # the id is free again


async def test_a_model_title_replaces_only_the_title_it_was_written_for(store: Store) -> None:
    await store.threads.create(NewThread(id="t1", owner="alice", title="first words"))

    assert await store.threads.replace_title("t1", "first words", "A model title")
    await store.threads.update("alice", "t1", {"title": "Renamed"})
    assert not await store.threads.replace_title("t1", "A model title", "Another model title")

    assert (await store.threads.get("alice", "t1")).title == "Renamed"
