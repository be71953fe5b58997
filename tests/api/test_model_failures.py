"""A failing model backend: the right status and code, the user's message kept, the run recorded."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stored(database_url: str, thread_id: str) -> tuple[list[tuple[str, str, str]], list[dict]]:
    messages = query(
        database_url,
        "SELECT role, content, status FROM messages WHERE thread_id = :t ORDER BY seq",
        t=thread_id,
    )
    runs = query(database_url, "SELECT status, error FROM runs WHERE thread_id = :t", t=thread_id)
    return [(m["role"], m["content"], m["status"]) for m in messages], runs


def test_a_dead_backend_gives_503_and_keeps_the_message(
    start_server: Callable[..., LiveServer], database_url: str
) -> None:
    server = start_server(ollama_url=f"http://127.0.0.1:{_closed_port()}", default_model="llama3.2")
    with server.client() as api:
        response = api.post("/chat", json={"message": "anyone?", "thread_id": "dead"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_unavailable"
    messages, runs = _stored(database_url, "dead")
    assert messages[0] == ("user", "anyone?", "complete")
    assert messages[1][0] == "assistant" and messages[1][2] == "error"
    assert len(runs) == 1 and runs[0]["status"] == "error"
    error = runs[0]["error"]
    error = error if isinstance(error, dict) else __import__("json").loads(error)
    assert error["code"] == "llm_unavailable"


def test_an_unknown_model_gives_400_model_not_found(api: httpx.Client, database_url: str) -> None:
    response = api.post("/chat", json={"message": "hi", "model": "nope:7b", "thread_id": "m"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_found"
    messages, runs = _stored(database_url, "m")
    assert messages[0] == ("user", "hi", "complete")
    assert runs[0]["status"] == "error"


def test_a_slow_first_token_gives_504(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    server = start_server(llm_first_token_timeout=0.3, llm_backoff_base=0.01)
    # A timeout before the first token is retried (2 retries by default): every attempt is slow.
    ollama.queue(*[Reply(tokens=["late"], first_token_delay=1.5)] * 3)
    with server.client() as api:
        response = api.post("/chat", json={"message": "quick?", "thread_id": "slow"})

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "llm_timeout"
    assert len(ollama.chat_requests()) == 3
    messages, runs = _stored(database_url, "slow")
    assert messages[0] == ("user", "quick?", "complete")
    assert runs[0]["status"] == "error"


def test_a_stalled_reply_gives_504_and_keeps_the_partial_answer(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    server = start_server(llm_stall_timeout=0.3)
    ollama.queue(Reply(tokens=["part", "ial", "never"], stall_after=2, stall_seconds=2))
    with server.client() as api:
        response = api.post("/chat", json={"message": "go", "thread_id": "stall"})

    assert response.status_code == 504
    messages, _ = _stored(database_url, "stall")
    assert messages[1] == ("assistant", "partial", "error")


def test_an_error_mid_stream_gives_502_and_keeps_the_partial_answer(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["a", "b", "c"], error_after=2))

    response = api.post("/chat", json={"message": "go", "thread_id": "mid"})

    assert response.status_code == 502
    body = response.json()["error"]
    assert body["code"] == "llm_error"
    assert "request_id" in body
    messages, runs = _stored(database_url, "mid")
    assert messages == [("user", "go", "complete"), ("assistant", "ab", "error")]
    assert runs[0]["status"] == "error"


@pytest.mark.parametrize(("status", "code"), [(503, "llm_unavailable"), (500, "llm_unavailable")])
def test_backend_server_errors_are_reported_as_unavailable(
    api: httpx.Client, ollama: FakeOllama, status: int, code: str
) -> None:
    ollama.queue(*[Reply(status=status, error="overloaded")] * 5)

    response = api.post("/chat", json={"message": "hi"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == code


def test_the_thread_accepts_a_new_turn_after_a_failure(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["x"], error_after=0))
    assert api.post("/chat", json={"message": "1", "thread_id": "again"}).status_code == 502

    response = api.post("/chat", json={"message": "2", "thread_id": "again"})

    assert response.status_code == 200
    sent = ollama.chat_requests()[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == ["1", "2"]
