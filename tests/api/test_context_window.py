"""A conversation longer than the model server's context window: when the server refuses it
(400, "maximum context length …" as OpenAI, vLLM and llama-cpp-python say it), the turn asks
again without the older half of the conversation, down to the newest message."""

from __future__ import annotations

import httpx

from support.db import query
from support.fake_ollama import FakeOllama, Reply

TOO_LONG = "This model's maximum context length is 1024 tokens. However, you requested 1530 tokens."


def _conversation(api: httpx.Client, thread_id: str, turns: int) -> None:
    for turn in range(turns):
        reply = api.post("/chat", json={"message": f"question {turn}", "thread_id": thread_id})
        assert reply.status_code == 200, reply.text


def test_a_refused_conversation_is_sent_again_without_its_older_half(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    _conversation(api, "long", 3)  # five earlier messages, then the sixth
    ollama.queue(Reply(status=400, error=TOO_LONG), Reply(tokens=["Still here."]))

    response = api.post("/chat", json={"message": "question 3", "thread_id": "long"})

    assert response.status_code == 200, response.text
    assert response.json()["response"] == "Still here."
    refused, answered = ollama.chat_requests()[-2:]
    said = [m["content"] for m in refused["messages"] if m["role"] != "system"]
    kept = [m["content"] for m in answered["messages"] if m["role"] != "system"]
    assert len(said) == 7 and kept == said[-4:]  # the newer half, the newest message last
    assert answered["messages"][0] == refused["messages"][0]  # the system prompt stays
    statuses = query(
        database_url, "SELECT status FROM runs WHERE thread_id = 'long' ORDER BY created_at"
    )
    assert [run["status"] for run in statuses] == ["success"] * 4


def test_a_newest_message_the_window_cannot_hold_is_refused_and_the_thread_kept(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    _conversation(api, "huge", 1)
    ollama.queue(*[Reply(status=400, error=TOO_LONG)] * 3)

    response = api.post("/chat", json={"message": "a very long message", "thread_id": "huge"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (
        error["code"] == "context_length_exceeded" and "maximum context length" in error["message"]
    )
    # The system prompt with three messages, then the newer half (two), then the newest alone:
    # never nothing to answer.
    asked = [len(r["messages"]) for r in ollama.chat_requests()[-3:]]
    assert asked == [4, 3, 2]
    stored = query(
        database_url, "SELECT role, status FROM messages WHERE thread_id = 'huge' ORDER BY seq"
    )
    assert [(m["role"], m["status"]) for m in stored][:3] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
    ]
