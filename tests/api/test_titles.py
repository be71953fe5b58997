"""Thread titles written by the model after the first reply, in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from graphchat.service.titles import TITLE_PROMPT
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

DEADLINE = 30.0  # bounds a hang; the conditions are polled, never timed


def _until(condition: Callable[[], Any]) -> Any:
    limit = time.monotonic() + DEADLINE
    while not (value := condition()):
        assert time.monotonic() < limit, "condition never held"
        time.sleep(0.02)
    return value


def _titling(start_server: Callable[..., LiveServer], **settings: Any) -> LiveServer:
    return start_server(titles_from_model=True, **settings)


def _idle(server: LiveServer) -> bool:
    return server.app.state.services.titles.pending == 0


def _title(api: httpx.Client, thread_id: str) -> str:
    title: str = api.get(f"/threads/{thread_id}").json()["title"]
    return title


def test_the_model_titles_a_thread_after_its_first_reply(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = _titling(start_server, title_max_tokens=12)
    ollama.queue(
        Reply(tokens=["Feed it daily."]), Reply(tokens=['"Feeding a ', 'sourdough starter."'])
    )
    with server.client() as api:
        assert api.post("/chat", json={"message": "How often to feed sourdough?", "thread_id": "s"})

        _until(lambda: _title(api, "s") == "Feeding a sourdough starter")

        ollama.queue(Reply(tokens=["Yes."]))
        assert api.post("/chat", json={"message": "Really?", "thread_id": "s"}).is_success
        _until(lambda: _idle(server))
    requests = ollama.chat_requests()
    assert len(requests) == 3  # the reply, the title, the second reply: no second title
    title_request = requests[1]
    assert title_request["messages"][0] == {"role": "system", "content": TITLE_PROMPT}
    assert title_request["messages"][1]["content"] == "How often to feed sourdough?"
    assert title_request["options"]["num_predict"] == 12


def test_when_the_model_fails_the_first_message_stays_the_title(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = _titling(start_server, llm_retries=0)
    ollama.queue(Reply(tokens=["Sure."]), Reply(status=500, error="model exploded"))
    with server.client() as api:
        response = api.post("/chat", json={"message": "Plan my week", "thread_id": "w"})
        assert response.status_code == 200 and response.json()["response"] == "Sure."

        _until(lambda: len(ollama.chat_requests()) == 2 and _idle(server))

        assert _title(api, "w") == "Plan my week"


def test_a_rename_during_generation_wins(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = _titling(start_server)
    ollama.queue(Reply(tokens=["Hi."]), Reply(tokens=["Model title"], first_token_delay=1.0))
    with server.client() as api:
        assert api.post("/chat", json={"message": "hello", "thread_id": "r"}).is_success
        _until(lambda: len(ollama.chat_requests()) == 2)  # the title is being generated

        assert api.patch("/threads/r", json={"title": "Mine"}).status_code == 200
        _until(lambda: _idle(server))

        assert _title(api, "r") == "Mine"


def test_off_by_the_setting(start_server: Callable[..., LiveServer], ollama: FakeOllama) -> None:
    server = start_server(titles_from_model=False)
    with server.client() as api:
        assert api.post("/chat", json={"message": "no title call", "thread_id": "o"}).is_success

    assert len(ollama.chat_requests()) == 1
    assert server.app.state.services.titles is None
