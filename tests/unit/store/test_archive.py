"""The archive repository: a conversation read whole (every branch, and the leaf) and written
whole, keeping its ids, or under fresh ids when they are taken; never half-written."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graphchat.errors import Conflict, NotFound
from graphchat.store import Store
from graphchat.store.records import Message, MessageWindow, NewMessage, NewRun, Tail, TurnRules
from support.conversations import chain, forked, thread_record
from support.db import row_counts

RULES = TurnRules(model=lambda model: model, title=lambda title, _messages: title)


def _shape(messages: list[Message]) -> list[tuple[int, str | None, str, str]]:
    """Each message's number, parent's number, role and content: the tree, whatever the ids."""
    seq_of = {message.id: message.seq for message in messages}
    return [(m.seq, seq_of.get(m.parent_id or ""), m.role, m.content) for m in messages]


async def _current_branch(store: Store, thread_id: str) -> list[int]:
    page = await store.messages.page(thread_id, MessageWindow(limit=50))
    return [message.seq for message in page.items]


async def test_a_conversation_reads_back_as_written_with_every_branch_and_its_leaf(
    store: Store,
) -> None:
    thread, tree = thread_record("t", title="Forked"), forked("t")

    stored = await store.archive.insert_conversation(thread, tree.messages, tree[6].id)

    assert stored == thread
    assert await store.threads.get("alice", "t") == thread
    messages, leaf_id = await store.archive.conversation("t")
    assert messages == tree.messages
    assert leaf_id == tree[6].id
    assert await _current_branch(store, "t") == [1, 2, 3, 4, 5, 6]


async def test_an_exported_thread_imports_again_as_the_same_conversation(store: Store) -> None:
    run = NewRun(id="r1", thread_id="t", owner="alice", model=None, params={}, worker_id="w")
    await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], RULES)
    await store.runs.append("t", "r1", [NewMessage(role="assistant", content="hello")])
    thread = await store.threads.get("alice", "t")
    messages, leaf_id = await store.archive.conversation("t")
    await store.threads.delete("alice", "t")

    imported = await store.archive.insert_conversation(thread, messages, leaf_id)

    assert imported == thread == await store.threads.get("alice", "t")
    again, again_leaf = await store.archive.conversation("t")
    assert again == messages
    assert [m.content for m in again] == ["hi", "hello"]
    assert again_leaf == leaf_id == messages[-1].id
    assert [m.parent_id for m in again] == [None, messages[0].id]


async def test_messages_are_read_by_sequence_number_whatever_their_insertion_order(
    store: Store,
) -> None:
    tree = forked("t")

    await store.archive.insert_conversation(thread_record("t"), tree.messages[::-1])

    messages, leaf_id = await store.archive.conversation("t")
    assert [m.seq for m in messages] == list(range(1, 10))
    assert leaf_id is None


async def test_an_empty_thread_round_trips_without_a_leaf(store: Store) -> None:
    await store.archive.insert_conversation(thread_record("t"), [])

    assert await store.archive.conversation("t") == ([], None)
    assert await store.archive.conversation("unknown") == ([], None)


async def test_a_conversation_excludes_other_threads_messages(store: Store) -> None:
    await store.archive.insert_conversation(thread_record("t"), forked("t").messages)
    other = forked("u")
    await store.archive.insert_conversation(thread_record("u"), other.messages, other.leaf.id)

    messages, leaf_id = await store.archive.conversation("u")

    assert messages == other.messages
    assert leaf_id == other.leaf.id


async def test_a_taken_thread_id_gets_fresh_ids_for_the_whole_conversation(store: Store) -> None:
    tree = forked("t")
    await store.archive.insert_conversation(thread_record("t", "bob", "Bob's"), tree.messages)
    copy = [replace(message, run_id="r-old") for message in tree.messages]

    stored = await store.archive.insert_conversation(
        thread_record("t", "alice", "Alice's"), copy, tree[6].id
    )

    assert stored.id != "t"
    assert (stored.owner, stored.title) == ("alice", "Alice's")
    messages, leaf_id = await store.archive.conversation(stored.id)
    assert _shape(messages) == _shape(tree.messages)
    assert not {m.id for m in messages} & {m.id for m in tree.messages}
    assert {(m.thread_id, m.run_id) for m in messages} == {(stored.id, None)}
    assert leaf_id == messages[5].id  # the leaf follows its message to its new id
    assert (await store.threads.get("bob", "t")).title == "Bob's"
    assert await store.archive.conversation("t") == (tree.messages, None)


async def test_one_taken_message_id_renumbers_the_conversation(store: Store) -> None:
    original = forked("t")
    await store.archive.insert_conversation(thread_record("t"), original.messages)
    copy = forked("u").messages
    taken = original[5].id
    copy[4] = replace(copy[4], id=taken)
    copy[5] = replace(copy[5], parent_id=taken)

    stored = await store.archive.insert_conversation(thread_record("u"), copy, copy[-1].id)

    assert stored.id != "u"
    messages, leaf_id = await store.archive.conversation(stored.id)
    assert _shape(messages) == _shape(copy)
    assert taken not in {m.id for m in messages}
    assert leaf_id == messages[-1].id
    with pytest.raises(NotFound):
        await store.threads.get("alice", "u")


async def test_another_owners_imported_thread_is_not_found(store: Store) -> None:
    await store.archive.insert_conversation(thread_record("t", "bob"), forked("t").messages)

    with pytest.raises(NotFound):
        await store.threads.get("alice", "t")
    assert (await store.threads.get("bob", "t")).owner == "bob"


async def test_a_conversation_the_database_refuses_is_not_written_at_all(store: Store) -> None:
    await store.archive.insert_conversation(thread_record("t"), forked("t").messages)
    before = await row_counts(store.engine)
    twice = chain("u", Tail(0, None), [("user", "a"), ("assistant", "b")])
    duplicated = [*twice, replace(twice[1], seq=3)]  # one id twice: the key refuses the insert

    with pytest.raises(Conflict):
        await store.archive.insert_conversation(thread_record("u"), duplicated, twice[1].id)

    assert await row_counts(store.engine) == before
    with pytest.raises(NotFound):
        await store.threads.get("alice", "u")


async def test_two_messages_with_one_number_are_refused_and_nothing_is_written(
    store: Store,
) -> None:
    before = await row_counts(store.engine)
    messages = chain("u", Tail(0, None), [("user", "a"), ("assistant", "b")])
    clash = [messages[0], replace(messages[1], seq=1)]

    with pytest.raises(Conflict):
        await store.archive.insert_conversation(thread_record("u"), clash)

    assert await row_counts(store.engine) == before
    assert await store.archive.conversation("u") == ([], None)
