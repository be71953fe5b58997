"""The response cache: a repeated deterministic request is answered without calling the backend,
still streams, and is stored as a message marked `cached`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer
from support.sse import frames

CACHE_ON = {"cache": "on", "default_model": "llama3.2", "tools_enabled": ""}


def _assistant_rows(database_url: str, thread_id: str) -> list[dict[str, Any]]:
    return query(
        database_url,
        "SELECT content, cached, status FROM messages WHERE thread_id = :t AND role = 'assistant'",
        t=thread_id,
    )


def _chat(api: httpx.Client, thread_id: str, **extra: Any) -> httpx.Response:
    body = {"message": "what is 2+2?", "thread_id": thread_id, "temperature": 0, **extra}
    return api.post("/chat", json=body)


@pytest.fixture
def cached_api(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    with start_server(**CACHE_ON).client() as client:
        yield client


def test_a_repeated_deterministic_request_is_served_from_the_cache(
    cached_api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["It ", "is ", "4."]))
    first = _chat(cached_api, "a")
    second = _chat(cached_api, "b")  # same context in another thread: same key

    assert first.status_code == second.status_code == 200
    assert second.json()["response"] == first.json()["response"] == "It is 4."
    assert len(ollama.chat_requests()) == 1  # the hit made no backend call
    assert [bool(r["cached"]) for r in _assistant_rows(database_url, "a")] == [False]
    [hit] = _assistant_rows(database_url, "b")
    assert bool(hit["cached"]) and hit["content"] == "It is 4." and hit["status"] == "complete"
    rows = query(database_url, "SELECT model, hits FROM cached_replies")
    assert [(r["model"], r["hits"]) for r in rows] == [("llama3.2", 1)]


def test_a_cache_hit_still_streams_its_tokens(cached_api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["It ", "is ", "4."]))
    assert _chat(cached_api, "a").status_code == 200
    body = {
        "input": {"messages": [{"role": "user", "content": "what is 2+2?"}], "thread_id": "s"},
        "config": {"configurable": {"temperature": 0}},
    }
    with cached_api.stream("POST", "/stream", json=body) as response:
        events = [f for f in frames(response.iter_lines()) if f.event]

    tokens = [f.json()[0]["content"] for f in events if f.event == "messages"]
    assert tokens == ["It ", "is ", "4."]
    assert events[-1].event == "end"
    assert len(ollama.chat_requests()) == 1


def test_a_different_context_or_parameter_is_a_miss(
    cached_api: httpx.Client, ollama: FakeOllama
) -> None:
    _chat(cached_api, "a")
    _chat(cached_api, "b", max_tokens=5)
    _chat(cached_api, "c", message="what is 3+3?")

    assert len(ollama.chat_requests()) == 3


def test_sampled_requests_are_not_cached_unless_configured(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    with start_server(**CACHE_ON).client() as api:
        for thread in ("a", "b"):
            api.post("/chat", json={"message": "tell a joke", "thread_id": thread})
    assert len(ollama.chat_requests()) == 2

    ollama.reset()
    with start_server(**CACHE_ON, cache_nondeterministic=True).client() as api:
        for thread in ("c", "d"):
            api.post("/chat", json={"message": "tell a joke", "thread_id": thread})
    assert len(ollama.chat_requests()) == 1


def test_the_cache_is_off_by_default(api: httpx.Client, ollama: FakeOllama) -> None:
    _chat(api, "a")
    _chat(api, "b")
    assert len(ollama.chat_requests()) == 2


def test_failed_replies_are_not_cached(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["a", "b"], error_after=1))
    with start_server(**CACHE_ON).client() as api:
        assert _chat(api, "a").status_code == 502
        assert _chat(api, "b").status_code == 200
    assert len(ollama.chat_requests()) == 2
    assert len(query(database_url, "SELECT key FROM cached_replies")) == 1


def test_the_cache_keeps_at_most_max_entries(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    with start_server(**CACHE_ON, cache_max_entries=2).client() as api:
        for number in range(4):
            _chat(api, f"t{number}", message=f"question {number}")
    assert len(query(database_url, "SELECT key FROM cached_replies")) == 2
