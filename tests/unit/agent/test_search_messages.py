"""`search_messages` through the owner-bound search the service builds, on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphchat.agent.tools import SEARCH_MESSAGES, ToolContext, ToolError
from graphchat.service.tool_use import owner_message_search
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.records import NewMessage, NewThread


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await Store.open(Settings(database_url=database_url).database)
    for owner, thread_id, texts in [
        ("alice", "a1", ["My cat is called Pizza", "Nice name!"]),
        ("alice", "a2", ["I ate pizza yesterday", "100% pizza_lover"]),
        ("bob", "b1", ["Bob's secret pizza recipe", "PIZZA for bob"]),
    ]:
        await store.threads.create(NewThread(id=thread_id, owner=owner))
        await store.runs.append(
            thread_id,
            f"run-{thread_id}",
            [
                NewMessage(role="user" if i % 2 == 0 else "assistant", content=text)
                for i, text in enumerate(texts)
            ],
        )
    await store.runs.append("a1", "tool-run", [NewMessage(role="tool", content="pizza tool")])
    yield store
    await store.close()


async def _search(store: Store, owner: str, query: str, **arguments: Any) -> list[str]:
    context = ToolContext(
        owner=owner, search_messages=owner_message_search(store.messages, owner, "current-run")
    )
    result = await SEARCH_MESSAGES.run({"query": query, **arguments}, context)
    assert isinstance(result, dict)
    return [f"{hit['thread_id']}:{hit['content']}" for hit in result["results"]]


async def test_finds_only_the_callers_messages_case_insensitively(store: Store) -> None:
    found = await _search(store, "alice", "PIZZA")

    assert sorted(found) == [
        "a1:My cat is called Pizza",
        "a2:100% pizza_lover",
        "a2:I ate pizza yesterday",
    ]
    assert sorted(await _search(store, "bob", "pizza")) == [
        "b1:Bob's secret pizza recipe",
        "b1:PIZZA for bob",
    ]


async def test_another_owner_finds_nothing(store: Store) -> None:
    assert await _search(store, "mallory", "pizza") == []
    assert await _search(store, "alice", "secret") == []


async def test_query_syntax_in_the_query_is_literal(store: Store) -> None:
    assert await _search(store, "alice", "%") == []  # no word: nothing to look for
    assert await _search(store, "alice", "i_z") == []  # "izz" would match a wildcard
    assert await _search(store, "alice", "pizza_l") == ["a2:100% pizza_lover"]


async def test_the_current_runs_messages_are_left_out(store: Store) -> None:
    await store.runs.append("a1", "current-run", [NewMessage(role="user", content="pizza?")])

    assert "a1:pizza?" not in await _search(store, "alice", "pizza")


async def test_results_are_bounded_by_limit(store: Store) -> None:
    assert len(await _search(store, "alice", "pizza", limit=2)) == 2
    with pytest.raises(ToolError, match="positive integer"):
        await _search(store, "alice", "pizza", limit=0)


async def test_without_a_search_function_the_tool_says_so() -> None:
    with pytest.raises(ToolError, match="not available"):
        await SEARCH_MESSAGES.run({"query": "x"}, ToolContext())
