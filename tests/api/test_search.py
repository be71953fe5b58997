"""`GET /search`: ranked, highlighted, paginated full-text search over the caller's threads."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from graphchat.store.search_index import INTERVAL_SECONDS
from support.server import LiveServer
from support.sqlite_index import indexed

ALICE = {"Authorization": "Bearer alice-search-secret-0123456789"}
BOB = {"Authorization": "Bearer bob-search-secret-0123456789"}


@pytest.fixture
def secured(start_server: Callable[..., LiveServer]) -> httpx.Client:
    server = start_server(
        auth="on",
        api_keys="alice:alice-search-secret-0123456789,bob:bob-search-secret-0123456789",
        rate_limit="",
    )
    return server.client()


def _say(api: httpx.Client, thread_id: str, text: str, **headers: str) -> None:
    response = api.post("/chat", json={"message": text, "thread_id": thread_id}, headers=headers)
    assert response.is_success, response.text


def _search(api: httpx.Client, q: str, **params: object) -> dict[str, object]:
    response = api.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _threads_of(found: dict[str, object]) -> list[str]:
    hits = found["messages"]
    assert isinstance(hits, list)
    return [hit["thread_id"] for hit in hits if hit["role"] == "user"]


def test_hits_are_ranked_and_highlighted(api: httpx.Client) -> None:
    _say(api, "rare", "banana bread recipe")
    _say(api, "dense", "banana banana banana smoothie with banana")

    found = _search(api, "banana")

    assert _threads_of(found)[:2] == ["dense", "rare"]  # more occurrences rank first
    first = next(hit for hit in found["messages"] if hit["role"] == "user")  # type: ignore[attr-defined]
    assert "<mark>banana</mark>" in first["snippet"]
    assert (
        first["seq"] == 1 and first["thread_title"] == "banana banana banana smoothie with banana"
    )


def test_titles_match_and_all_words_are_required(api: httpx.Client) -> None:
    api.post("/threads", json={"thread_id": "trip", "title": "Holiday in Lisbon"})
    _say(api, "trip", "where to eat pastel de nata")
    _say(api, "other", "eat your vegetables")

    found = _search(api, "lisbon")
    both = _search(api, "eat nata")

    assert [t["thread_id"] for t in found["titles"]] == ["trip"]  # type: ignore[union-attr]
    assert "<mark>Lisbon</mark>" in found["titles"][0]["snippet"]  # type: ignore[index]
    assert _threads_of(both) == ["trip"]


def test_the_last_word_matches_as_a_prefix(api: httpx.Client) -> None:
    _say(api, "t", "photosynthesis in plants")

    assert _threads_of(_search(api, "photosyn")) == ["t"]
    assert _threads_of(_search(api, "synthesis")) == []  # whole words, not substrings


def test_pages_with_offset_and_limit(api: httpx.Client) -> None:
    for index in range(5):
        _say(api, f"p{index}", f"pagination sample {index}")

    pages = [_search(api, "pagination", limit=3)]
    while pages[-1]["next_offset"] is not None:
        pages.append(_search(api, "pagination", limit=3, offset=pages[-1]["next_offset"]))

    seen = [hit["message_id"] for page in pages for hit in page["messages"]]  # type: ignore[attr-defined]
    assert len(seen) == len(set(seen)) == 10  # 5 questions and 5 echoed replies
    assert [page["next_offset"] for page in pages] == [3, 6, 9, None]
    assert [len(page["titles"]) for page in pages] == [5, 0, 0, 0]  # type: ignore[arg-type]
    assert api.get("/search", params={"q": "x", "limit": 51}).status_code == 422


def test_another_owners_text_never_appears(secured: httpx.Client) -> None:
    _say(secured, "a-thread", "alice keeps the zeppelin plans", **ALICE)
    _say(secured, "b-thread", "bob also mentions a zeppelin", **BOB)
    secured.patch("/threads/b-thread", json={"title": "zeppelin secrets"}, headers=BOB)

    alice = secured.get("/search", params={"q": "zeppelin"}, headers=ALICE).json()

    assert {hit["thread_id"] for hit in alice["messages"]} == {"a-thread"}
    assert [hit["thread_id"] for hit in alice["titles"]] == ["a-thread"]  # her own first message
    assert "bob" not in str(alice) and "secrets" not in str(alice)


def test_deleted_threads_disappear_from_results(api: httpx.Client) -> None:
    _say(api, "gone", "ephemeral walrus")
    _say(api, "kept", "permanent walrus")
    api.patch("/threads/gone", json={"title": "walrus notes"})

    assert api.delete("/threads/gone").status_code == 204

    found = _search(api, "walrus")
    assert _threads_of(found) == ["kept"]
    assert [hit["thread_id"] for hit in found["titles"]] == ["kept"]  # type: ignore[attr-defined]


ODD_QUERIES = [
    '"',
    "*",
    "NEAR",
    "NEAR(a b)",
    "'",
    "-",
    ":",
    "a:b",
    '"unbalanced',
    "x OR",
    "AND",
    "^",
    "()",
    "content:secret",
    "a' OR '1'='1",
    "%",
    "\\",
    "🙂",
    "\uff9e",  # a "letter" that folds to nothing (a halfwidth voiced sound mark)
    "x" * 500,
    "-secret",
    "\u0301",  # a combining accent alone
    "ß ǅ ﬁ",
]


def test_odd_characters_are_safe(api: httpx.Client) -> None:
    _say(api, "odd", "NEAR the content of a secret")

    for query in ODD_QUERIES:
        response = api.get("/search", params={"q": query})
        assert response.status_code == 200, (query, response.text)
        assert isinstance(response.json()["messages"], list)


def test_query_syntax_is_searched_as_words_and_snippets_are_escaped(api: httpx.Client) -> None:
    _say(api, "odd", "NEAR the content of a <b>secret</b>")

    found = _search(api, "content:secret")

    assert _threads_of(found) == ["odd"]
    for hit in found["messages"]:  # type: ignore[attr-defined]
        assert "<mark>secret</mark>" in hit["snippet"]
        assert "<b>" not in hit["snippet"]  # the message's markup is text, never HTML


def test_accents_and_case_are_ignored(api: httpx.Client) -> None:
    _say(api, "fr", "Un café crème, sans Ärger")
    _say(api, "en", "a plain cafe")

    plain = _search(api, "cafe creme")
    accented = _search(api, "ÄRGER CAFÉ")
    both = _search(api, "café")

    assert _threads_of(plain) == _threads_of(accented) == ["fr"]
    assert sorted(_threads_of(both)) == ["en", "fr"]
    snippets = [hit["snippet"] for hit in plain["messages"] if hit["thread_id"] == "fr"]  # type: ignore[attr-defined]
    assert "Un <mark>café</mark> <mark>crème</mark>, sans Ärger" in snippets
    assert [t["thread_id"] for t in accented["titles"]] == ["fr"]  # type: ignore[attr-defined]


def test_new_messages_are_indexed_without_a_search(server: LiveServer) -> None:
    if not server.settings.database.is_sqlite:
        pytest.skip("PostgreSQL indexes in the inserting statement")
    _say(server.client(), "t", "xylophone lessons")

    deadline = time.monotonic() + 5 * INTERVAL_SECONDS
    while not (found := indexed(server.settings.database.url, "xylophone")):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert found >= 1  # the user's message; a reply may repeat the word
