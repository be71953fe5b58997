"""The search repository's bounds: only the newest `RANKED_CANDIDATES` matches are ranked, and a
last word typed as a prefix matches every word it starts, however many."""

from __future__ import annotations

import pytest

from graphchat.store import Store
from graphchat.store.records import NewMessage
from graphchat.store.search import RANKED_CANDIDATES


@pytest.fixture
async def store(store: Store) -> Store:
    """The store, with alice's thread "t" to append to."""
    await store.threads.create(owner="alice", thread_id="t")
    return store


async def _say(store: Store, *texts: str, run: str = "r1") -> list[str]:
    added = await store.runs.append("t", run, [NewMessage(role="user", content=t) for t in texts])
    return [message.id for message in added]


async def test_a_match_older_than_the_newest_candidates_is_not_ranked(store: Store) -> None:
    [dense] = await _say(store, "walrus walrus walrus walrus")
    await _say(store, "one walrus among other words", run="r2")
    before = await store.search.messages("alice", "walrus", limit=1)

    await _say(store, *["a walrus in passing"] * RANKED_CANDIDATES, run="r3")
    after = await store.search.messages("alice", "walrus", limit=50, offset=0)

    assert [hit.message_id for hit in before.items] == [dense]  # it ranks first while in bounds
    assert dense not in {hit.message_id for hit in after.items}
    assert len(after.items) == 50 and after.has_more


async def test_a_last_word_starting_many_words_matches_them_all(store: Store) -> None:
    ids = await _say(store, *[f"code quux{index} here" for index in range(40)])

    every = await store.search.messages("alice", "code quux", limit=50)
    some = await store.search.messages("alice", "quux1", limit=50)

    assert {hit.message_id for hit in every.items} == set(ids)  # 40 words: FTS5's own prefix
    assert len(some.items) == 11  # quux1 and quux10…quux19, expanded to those words
    assert all("<mark>quux1" in hit.snippet for hit in some.items)


async def test_words_are_found_whatever_their_case(store: Store) -> None:
    [cafe] = await _say(store, "Un Café Crème s'il vous plaît")

    found = await store.search.messages("alice", "CAFÉ CRÈ", limit=5)  # the last as a prefix

    assert [hit.message_id for hit in found.items] == [cafe]
