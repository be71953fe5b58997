"""The messages repository: sequence numbers, pages in both directions with their cursor, a
run's messages, the most recent ones, and search bound to an owner."""

from __future__ import annotations

import pytest

from graphchat.store import Store
from graphchat.store.records import Message, MessageStatus, MessageWindow, NewMessage, NewThread


@pytest.fixture
async def thread(store: Store) -> str:
    await store.threads.create(NewThread(id="t1", owner="alice"))
    await store.runs.append(
        "t1", "r1", [NewMessage(role="user", content=f"m{i}") for i in range(1, 6)]
    )
    return "t1"


def _texts(messages: list[Message]) -> list[str]:
    return [message.content for message in messages]


async def test_appended_messages_get_consecutive_sequence_numbers(store: Store) -> None:
    await store.threads.create(NewThread(id="t1", owner="alice"))
    first = await store.runs.append("t1", "r1", [NewMessage(role="user", content="a")])
    more = await store.runs.append(
        "t1",
        "r2",
        [
            NewMessage(role="assistant", content="b", model="m", prompt_tokens=3),
            NewMessage(role="tool", content="c", tool_call_id="x", status=MessageStatus.ERROR),
        ],
    )

    assert [m.seq for m in first + more] == [1, 2, 3]
    stored = (await store.messages.page("t1", MessageWindow(limit=5))).items
    assert stored == first + more
    assert stored[1].usage is not None and stored[1].usage.total_tokens == 3
    assert stored[0].usage is None


async def test_pages_ascending_follow_the_cursor_as_after(store: Store, thread: str) -> None:
    first = await store.messages.page(thread, MessageWindow(limit=2))
    second = await store.messages.page(thread, MessageWindow(limit=2, after=first.next_cursor))
    last = await store.messages.page(thread, MessageWindow(limit=2, after=second.next_cursor))

    assert [_texts(p.items) for p in (first, second, last)] == [
        ["m1", "m2"],
        ["m3", "m4"],
        ["m5"],
    ]
    assert (first.next_cursor, second.next_cursor, last.next_cursor) == (2, 4, None)
    assert [p.has_more for p in (first, second, last)] == [True, True, False]


async def test_pages_descending_follow_the_cursor_as_before(store: Store, thread: str) -> None:
    newest = await store.messages.page(thread, MessageWindow(limit=3, order="desc"))
    older = await store.messages.page(
        thread, MessageWindow(limit=3, order="desc", before=newest.next_cursor)
    )

    assert _texts(newest.items) == ["m5", "m4", "m3"]
    assert _texts(older.items) == ["m2", "m1"]
    assert older.next_cursor is None


async def test_offset_skips_messages(store: Store, thread: str) -> None:
    page = await store.messages.page(thread, MessageWindow(limit=2, offset=3))

    assert _texts(page.items) == ["m4", "m5"]


async def test_recent_returns_the_last_messages_oldest_first(store: Store, thread: str) -> None:
    assert _texts(await store.messages.recent(thread, 2)) == ["m4", "m5"]


async def test_of_run_returns_only_that_runs_messages(store: Store, thread: str) -> None:
    await store.runs.append(thread, "r2", [NewMessage(role="assistant", content="reply")])

    assert _texts(await store.messages.of_run("r2")) == ["reply"]
    assert len(await store.messages.of_run("r1")) == 5


async def test_another_threads_messages_stay_apart(store: Store, thread: str) -> None:
    await store.threads.create(NewThread(id="t2", owner="bob"))
    await store.runs.append("t2", "r9", [NewMessage(role="user", content="bob's")])

    assert _texts((await store.messages.page("t2", MessageWindow(limit=10))).items) == ["bob's"]
    assert len((await store.messages.page(thread, MessageWindow(limit=10))).items) == 5


async def test_search_finds_only_the_owners_messages(store: Store, thread: str) -> None:
    await store.threads.create(NewThread(id="t2", owner="bob"))
    await store.runs.append("t2", "r9", [NewMessage(role="user", content="m1 of bob")])

    found = await store.messages.search("alice", "M1", limit=10)

    assert _texts(found) == ["m1"]
    assert _texts(await store.messages.search("bob", "m1", limit=10)) == ["m1 of bob"]
