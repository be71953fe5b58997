"""The reply cache's table with an injected clock: a reply expires after its TTL, expired rows
are pruned on the next write, and at most `max_entries` are kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from tests.support.statements import recorded

from graphchat.store import Store
from graphchat.store.database import read_rows
from graphchat.store.replies import ReplyRepository
from graphchat.store.tables import REPLIES
from support.clock import FakeClock

REPLY = {"pieces": ["hi"], "tool_calls": [], "finish_reason": "stop", "usage": [3, 1]}


async def test_a_reply_is_served_until_its_ttl_passes(store: Store) -> None:
    clock = FakeClock()
    replies = ReplyRepository(store.engine, clock)
    await replies.put("k", "m", REPLY, ttl_seconds=60, max_entries=10)

    clock.now += timedelta(seconds=59)
    assert await replies.get("k") == REPLY
    clock.now += timedelta(seconds=2)
    assert await replies.get("k") is None


async def test_expired_replies_are_pruned_on_the_next_write(store: Store) -> None:
    clock = FakeClock()
    replies = ReplyRepository(store.engine, clock)
    await replies.put("old", "m", REPLY, ttl_seconds=1, max_entries=10)

    clock.now += timedelta(seconds=2)
    await replies.put("new", "m", REPLY, ttl_seconds=1, max_entries=10)
    clock.now -= timedelta(seconds=2)  # the old row would be fresh again, were it still there

    assert await replies.get("old") is None
    assert await replies.get("new") == REPLY


async def test_at_most_max_entries_are_kept_the_newest_first(store: Store) -> None:
    clock = FakeClock()
    replies = ReplyRepository(store.engine, clock)
    for key in ("a", "b", "c"):
        clock.now += timedelta(seconds=1)
        await replies.put(key, "m", REPLY, ttl_seconds=60, max_entries=2)

    assert [await replies.get(key) is not None for key in ("a", "b", "c")] == [False, True, True]


async def test_a_hit_is_found_and_counted_in_one_statement(store: Store) -> None:
    clock = FakeClock()
    replies = ReplyRepository(store.engine, clock)
    await replies.put("k", "m", REPLY, ttl_seconds=60, max_entries=10)

    with recorded(store) as hit:
        found = await replies.get("k")
    clock.now += timedelta(seconds=61)
    with recorded(store) as expired:
        gone = await replies.get("k")
    [hits] = await read_rows(store.engine, select(REPLIES.c.hits))

    assert (found, gone) == (REPLY, None)
    assert hit == expired and len(hit) == 1 and hit[0].startswith("UPDATE cached_replies")
    assert hits == (1,)  # the expired read counted nothing
