"""POST /chat and /invoke over real HTTP against the Ollama-protocol test server."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer


def test_chat_creates_a_thread_and_returns_the_reply(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["Hel", "lo", "!"], prompt_eval_count=11, eval_count=3))

    response = api.post("/chat", json={"message": "hi there"})

    assert response.status_code == 200
    body = response.json()
    assert body["response"] == "Hello!"
    assert body["model"] == "llama3.2:latest"
    assert body["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert [(m["role"], m["content"], m["seq"]) for m in body["messages"]] == [
        ("user", "hi there", 1),
        ("assistant", "Hello!", 2),
    ]
    thread = api.get(f"/threads/{body['thread_id']}").json()
    assert thread["title"] == "hi there"
    sent = ollama.chat_requests()[-1]
    assert sent["model"] == "llama3.2:latest"
    assert sent["stream"] is True
    assert sent["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hi there"},
    ]
    assert "options" not in sent


def test_sampling_parameters_are_mapped_to_ollama_options(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    response = api.post(
        "/chat",
        json={
            "message": "x",
            "temperature": 0,
            "top_p": 0.5,
            "max_tokens": 64,
            "seed": 42,
            "stop": "END",
            "system": "Answer in French.",
        },
    )

    assert response.status_code == 200
    sent = ollama.chat_requests()[-1]
    assert sent["options"] == {
        "temperature": 0,
        "top_p": 0.5,
        "num_predict": 64,
        "seed": 42,
        "stop": ["END"],
    }
    assert "max_tokens" not in sent and "max_tokens" not in sent["options"]
    assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}


def test_an_unknown_thread_id_creates_a_thread_with_that_id(api: httpx.Client) -> None:
    response = api.post("/chat", json={"message": "hello", "thread_id": "my-thread.1:a"})

    assert response.status_code == 200
    assert response.json()["thread_id"] == "my-thread.1:a"
    assert api.get("/threads/my-thread.1:a").status_code == 200


def test_a_second_turn_sends_the_history(api: httpx.Client, ollama: FakeOllama) -> None:
    first = api.post("/chat", json={"message": "one"}).json()
    api.post("/chat", json={"message": "two", "thread_id": first["thread_id"]})

    sent = ollama.chat_requests()[-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "one"),
        ("assistant", "You said: one"),
        ("user", "two"),
    ]


def test_the_model_sees_only_the_context_window(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    server = start_server(context_max_messages=3)
    with server.client() as api:
        thread_id = api.post("/chat", json={"message": "m1"}).json()["thread_id"]
        for text in ("m2", "m3"):
            api.post("/chat", json={"message": text, "thread_id": thread_id})

    sent = ollama.chat_requests()[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == ["m2", "You said: m2", "m3"]


def test_a_thread_model_is_used_when_the_request_names_none(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    api.post("/threads", json={"thread_id": "t1", "model": "qwen2.5:0.5b"})

    body = api.post("/chat", json={"message": "hi", "thread_id": "t1"}).json()
    named = api.post("/chat", json={"message": "hi", "thread_id": "t1", "model": "llama3.2"})

    assert body["model"] == "qwen2.5:0.5b"
    assert named.json()["model"] == "llama3.2"
    assert [r["model"] for r in ollama.chat_requests()] == ["qwen2.5:0.5b", "llama3.2"]


def test_invoke_returns_the_messages_the_run_added(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["Sure."]))

    response = api.post(
        "/invoke",
        json={
            "input": {"messages": [{"type": "human", "content": [{"type": "text", "text": "Go"}]}]},
            "config": {"configurable": {"thread_id": "inv-1", "temperature": 0.1}},
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["thread_id"] == "inv-1"
    assert [(m["role"], m["content"]) for m in body["output"]["messages"]] == [
        ("assistant", "Sure.")
    ]
    assert ollama.chat_requests()[-1]["options"] == {"temperature": 0.1}
    stored = api.get("/threads/inv-1/messages").json()["messages"]
    assert [m["content"] for m in stored] == ["Go", "Sure."]


def test_a_second_turn_while_one_runs_gets_409_and_stores_nothing(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    api.post("/threads", json={"thread_id": "busy"})
    ollama.queue(Reply(tokens=["slow"], first_token_delay=1.0))
    results: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: results.append(api.post("/chat", json={"message": "a", "thread_id": "busy"}))
    )
    first.start()
    _wait_for_chat_request(ollama)

    # On PostgreSQL each refused turn's graph starts while its begin is written: it must not
    # reach the model before begin is refused.
    refused = [api.post("/chat", json={"message": "b", "thread_id": "busy"}) for _ in range(5)]
    first.join()

    assert [response.status_code for response in refused] == [409] * 5
    assert {response.json()["error"]["code"] for response in refused} == {"thread_busy"}
    assert len(ollama.chat_requests()) == 1
    assert results[0].status_code == 200
    contents = [
        row["content"]
        for row in query(
            database_url, "SELECT content FROM messages WHERE thread_id = 'busy' ORDER BY seq"
        )
    ]
    assert contents == ["a", "slow"]
    assert len(query(database_url, "SELECT id FROM runs WHERE thread_id = 'busy'")) == 1


def _wait_for_chat_request(ollama: FakeOllama) -> None:
    import time

    deadline = time.monotonic() + 10
    while not ollama.chat_requests():
        assert time.monotonic() < deadline, "the backend never received the request"
        time.sleep(0.01)
