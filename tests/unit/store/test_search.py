"""The search repository's bounds: only the newest `RANKED_CANDIDATES` matches are ranked, and a
last word typed as a prefix matches every word it starts, however many."""

from __future__ import annotations

import pytest

from graphchat.store import Store
from graphchat.store.records import NewMessage, NewThread
from graphchat.store.search_postgres import postgres_ranked
from graphchat.store.search_text import RANKED_CANDIDATES, search_terms


@pytest.fixture
async def store(store: Store) -> Store:
    """The store, with alice's thread "t" to append to."""
    await store.threads.create(NewThread(id="t", owner="alice"))
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


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Un café crème", "cafe"),
        ("a plain cafe", "café"),
        ("Ärger im Büro", "arger"),
        ("arger", "ÄRGER"),
    ],
)
async def test_accents_and_case_are_ignored_both_ways(
    store: Store, stored: str, typed: str
) -> None:
    [wanted] = await _say(store, stored)
    await _say(store, "caff arg unrelated words", run="r2")

    found = await store.search.messages("alice", typed, limit=5)

    assert [hit.message_id for hit in found.items] == [wanted]
    assert found.items[0].snippet.count("<mark>") == 1  # the folded word is highlighted


async def test_a_match_in_the_oldest_message_only_is_found(store: Store) -> None:
    [oldest] = await _say(store, "the needle is here")
    await _say(store, *[f"hay number {index}" for index in range(300)], run="r2")

    found = await store.search.messages("alice", "needle", limit=5)

    assert [hit.message_id for hit in found.items] == [oldest]


async def test_pages_of_equally_ranked_hits_follow_one_stable_order(store: Store) -> None:
    ids = await _say(store, *["same words every time"] * 30)

    whole = await store.search.messages("alice", "same", limit=30)
    pages = [
        await store.search.messages("alice", "same", limit=7, offset=o) for o in range(0, 30, 7)
    ]

    in_pages = [hit.message_id for page in pages for hit in page.items]
    assert in_pages == [hit.message_id for hit in whole.items]
    assert sorted(in_pages) == sorted(ids)  # each once (same instant: by id on PostgreSQL)


async def test_another_owners_messages_never_match(store: Store) -> None:
    await store.threads.create(NewThread(id="b", owner="bob"))
    await store.runs.append("b", "rb", [NewMessage(role="user", content="bob's café secret")])
    [mine] = await _say(store, "alice's cafe")

    found = await store.search.messages("alice", "café", limit=10)

    assert [hit.message_id for hit in found.items] == [mine]


async def _sliced(store: Store, text: str, first_slice: float | None) -> list[str]:
    """PostgreSQL's ranking, with its first slice of time forced (None: chosen as in service)."""
    terms = search_terms(text)
    async with store.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: postgres_ranked(sync, terms, "alice", None, 60, first_slice=first_slice)
        )


@pytest.fixture
def postgres_only(store: Store) -> Store:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("slices of time are PostgreSQL's way")
    return store


async def test_slices_widen_until_they_reach_the_oldest_match(postgres_only: Store) -> None:
    store = postgres_only
    [needle] = await _say(store, "the needle and some hay")
    for batch in range(5):
        await _say(store, *[f"hay bale {batch}.{index}" for index in range(10)], run=f"b{batch}")

    oldest_only = await _sliced(store, "needle", first_slice=0.001)
    all_hay = await _sliced(store, "hay", first_slice=0.001)

    assert oldest_only == [needle]
    assert all_hay == await _sliced(store, "hay", first_slice=None) and len(all_hay) == 51


async def test_a_slice_holding_enough_candidates_ranks_what_a_full_scan_does(
    postgres_only: Store,
) -> None:
    store = postgres_only
    await _say(store, "walrus walrus walrus walrus")  # ranks first, but older than the candidates
    await _say(store, *["a walrus in passing"] * RANKED_CANDIDATES, run="r2")
    await _say(store, "walrus twice: walrus", run="r3")

    sliced = await _sliced(store, "walrus", first_slice=0.001)

    assert sliced == await _sliced(store, "walrus", first_slice=1.0)
    assert len(sliced) == 60
