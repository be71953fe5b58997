"""Pages picked from a branch's ranges: a regenerated thread pages its current branch only, from
any start, and a new leaf (a turn, a switch back) is worked out from the leaves seen before."""

from __future__ import annotations

from graphchat.store import Store
from graphchat.store.branch_map import as_ranges, page_seqs
from graphchat.store.records import MessageWindow, NewMessage, NewThread, Tail


def test_ranges_are_runs_of_consecutive_numbers() -> None:
    assert as_ranges([1, 2, 3, 5, 8, 9]) == [(1, 3), (5, 5), (8, 9)]
    assert as_ranges([]) == []


def test_page_numbers_skip_the_gaps_in_both_orders() -> None:
    ranges = ((1, 3), (6, 8), (10, 10))
    assert page_seqs(ranges, MessageWindow(limit=3)) == [1, 2, 3, 6]
    assert page_seqs(ranges, MessageWindow(limit=2, offset=2)) == [3, 6, 7]
    assert page_seqs(ranges, MessageWindow(limit=5, after=2)) == [3, 6, 7, 8, 10]
    assert page_seqs(ranges, MessageWindow(limit=2, order="desc")) == [10, 8, 7]
    assert page_seqs(ranges, MessageWindow(limit=2, before=7, order="desc", offset=1)) == [3, 2, 1]
    assert page_seqs(ranges, MessageWindow(limit=2, offset=7)) == []


async def _texts(store: Store, window: MessageWindow) -> list[str]:
    return [message.content for message in (await store.messages.page("t1", window)).items]


async def test_ascending_pages_follow_the_current_branch_as_it_moves(store: Store) -> None:
    await store.threads.create(NewThread(id="t1", owner="alice"))
    first = await store.runs.append(
        "t1", "r1", [NewMessage(role="user", content=f"m{i}") for i in range(1, 6)]
    )
    assert await _texts(store, MessageWindow(limit=10)) == ["m1", "m2", "m3", "m4", "m5"]

    regenerated = [NewMessage(role="assistant", content=text) for text in ("b3", "b4")]
    await store.runs.append("t1", "r2", regenerated, Tail(5, first[1].id))  # m3..m5 abandoned
    assert await _texts(store, MessageWindow(limit=10)) == ["m1", "m2", "b3", "b4"]
    assert await _texts(store, MessageWindow(limit=2, offset=1)) == ["m2", "b3"]
    assert await _texts(store, MessageWindow(limit=10, after=2)) == ["b3", "b4"]

    await store.runs.append("t1", "r3", [NewMessage(role="user", content="b5")])
    assert await _texts(store, MessageWindow(limit=10, after=1)) == ["m2", "b3", "b4", "b5"]

    await store.branches.switch("alice", "t1", first[-1].id, descend=False)
    assert await _texts(store, MessageWindow(limit=10)) == ["m1", "m2", "m3", "m4", "m5"]
    assert await _texts(store, MessageWindow(limit=2, order="desc", after=3)) == ["m5", "m4"]
