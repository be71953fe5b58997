"""Fault matrix against the Ollama-protocol test server: how many attempts each failure gets, the
status and code the client sees, the circuit breaker opening and recovering, and what is stored."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

FAST_RETRIES = {"llm_backoff_base": 0.01, "llm_backoff_max": 0.02, "default_model": "llama3.2"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stored(database_url: str, thread_id: str) -> list[tuple[str, str, str]]:
    rows = query(
        database_url,
        "SELECT role, content, status FROM messages WHERE thread_id = :t ORDER BY seq",
        t=thread_id,
    )
    return [(row["role"], row["content"], row["status"]) for row in rows]


@pytest.fixture
def fast(start_server: Callable[..., LiveServer]) -> Callable[..., httpx.Client]:
    """A client of a server that retries with tiny backoffs (other settings overridable)."""

    def open_client(**overrides: object) -> httpx.Client:
        return start_server(**{**FAST_RETRIES, **overrides}).client()

    return open_client


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_transient_status_is_retried_then_reported_as_unavailable(
    fast: Callable[..., httpx.Client], ollama: FakeOllama, database_url: str, status: int
) -> None:
    ollama.queue(*[Reply(status=status, error="overloaded")] * 3)
    with fast() as api:
        response = api.post("/chat", json={"message": "hi", "thread_id": "t"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_unavailable"
    assert len(ollama.chat_requests()) == 3  # the call and 2 retries
    assert _stored(database_url, "t") == [("user", "hi", "complete"), ("assistant", "", "error")]


def test_a_transient_failure_then_success_answers_normally(
    fast: Callable[..., httpx.Client], ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(status=503), Reply(status=500), Reply(tokens=["fine"]))
    with fast() as api:
        response = api.post("/chat", json={"message": "hi", "thread_id": "t"})

    assert response.status_code == 200
    assert response.json()["response"] == "fine"
    assert len(ollama.chat_requests()) == 3
    assert _stored(database_url, "t")[-1] == ("assistant", "fine", "complete")


def test_retries_follow_the_configured_count(
    fast: Callable[..., httpx.Client], ollama: FakeOllama
) -> None:
    ollama.queue(*[Reply(status=503)] * 6)
    with fast(llm_retries=4) as api:
        assert api.post("/chat", json={"message": "hi"}).status_code == 503
    assert len(ollama.chat_requests()) == 5


def test_a_refused_connection_is_503_and_the_message_is_kept(
    fast: Callable[..., httpx.Client], database_url: str
) -> None:
    with fast(ollama_url=f"http://127.0.0.1:{_closed_port()}") as api:
        response = api.post("/chat", json={"message": "anyone?", "thread_id": "t"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_unavailable"
    assert _stored(database_url, "t")[0] == ("user", "anyone?", "complete")


def test_a_slow_first_token_is_retried_and_can_recover(
    fast: Callable[..., httpx.Client], ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["late"], first_token_delay=1.0), Reply(tokens=["on time"]))
    with fast(llm_first_token_timeout=0.3) as api:
        response = api.post("/chat", json={"message": "quick?"})

    assert response.status_code == 200
    assert response.json()["response"] == "on time"
    assert len(ollama.chat_requests()) == 2


def test_a_stall_after_the_first_token_is_not_retried(
    fast: Callable[..., httpx.Client], ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["part", "ial", "x"], stall_after=2, stall_seconds=2))
    with fast(llm_stall_timeout=0.3) as api:
        response = api.post("/chat", json={"message": "go", "thread_id": "t"})

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "llm_timeout"
    assert len(ollama.chat_requests()) == 1
    assert _stored(database_url, "t")[1] == ("assistant", "partial", "error")


@pytest.mark.parametrize("after", [0, 2])
def test_an_error_in_the_stream_is_502_and_not_retried(
    fast: Callable[..., httpx.Client], ollama: FakeOllama, database_url: str, after: int
) -> None:
    ollama.queue(Reply(tokens=["a", "b", "c"], error_after=after))
    with fast() as api:
        response = api.post("/chat", json={"message": "go", "thread_id": "t"})

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "llm_error"
    assert len(ollama.chat_requests()) == 1
    assert _stored(database_url, "t")[1] == ("assistant", "ab"[:after], "error")


def test_an_unknown_model_is_400_after_one_attempt(
    fast: Callable[..., httpx.Client], ollama: FakeOllama
) -> None:
    with fast() as api:
        response = api.post("/chat", json={"message": "hi", "model": "nope:7b"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_found"
    assert len(ollama.chat_requests()) == 1


def test_a_model_without_tools_is_asked_again_without_them(
    fast: Callable[..., httpx.Client], ollama: FakeOllama
) -> None:
    ollama.queue(Reply(status=400, error="registry.ollama.ai/library/x does not support tools"))
    with fast(tools_enabled="calculator") as api:
        response = api.post("/chat", json={"message": "hi"})

    assert response.status_code == 200
    sent = ollama.chat_requests()
    assert len(sent) == 2  # no retry of the 400 itself; the agent drops the tools once
    assert sent[0].get("tools") and not sent[1].get("tools")


def _circuit(api: httpx.Client) -> str:
    backends = api.get("/models").json()["backends"]
    return str(backends[0]["circuit"])


def test_the_breaker_opens_fails_fast_and_reports_itself(
    fast: Callable[..., httpx.Client], ollama: FakeOllama
) -> None:
    """Over HTTP; the cooldown, the half-open probe and closing again are timed by the breaker's
    clock, so tests/unit/llm/test_resilience.py covers them with an injected one."""
    ollama.down = True
    with fast(breaker_threshold=2, breaker_cooldown=60.0) as api:
        for _ in range(2):
            assert api.post("/chat", json={"message": "hi"}).status_code == 503
        assert len(ollama.chat_requests()) == 6

        fast_fail = api.post("/chat", json={"message": "hi"})
        assert fast_fail.status_code == 503
        assert fast_fail.json()["error"]["code"] == "llm_unavailable"
        assert 1 <= int(fast_fail.headers["retry-after"]) <= 60
        assert len(ollama.chat_requests()) == 6  # the open breaker made no call
        assert _circuit(api) == "open"
        ready = api.get("/ready")
        assert ready.status_code == 503
        checks = {c["name"]: c for c in ready.json()["error"]["details"]}
        assert checks["llm:ollama"]["circuit"] == "open"

        ollama.down = False  # still open: the cooldown has not passed
        assert api.post("/chat", json={"message": "hi again"}).status_code == 503
        assert len(ollama.chat_requests()) == 6


def test_the_stream_reports_an_open_breaker_as_an_error_event(
    fast: Callable[..., httpx.Client], ollama: FakeOllama
) -> None:
    ollama.down = True
    body = {"input": {"messages": [{"role": "user", "content": "hi"}]}}
    with fast(breaker_threshold=1, breaker_cooldown=60, llm_retries=0) as api:
        api.post("/chat", json={"message": "open it"})
        with api.stream("POST", "/stream", json=body) as response:
            text = "".join(response.iter_text())
    assert "event: error" in text and "llm_unavailable" in text
    assert len(ollama.chat_requests()) == 1
