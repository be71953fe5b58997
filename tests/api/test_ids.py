"""What a turn stores is keyed by version-7 UUIDs that grow with time (graphchat/ids.py)."""

from __future__ import annotations

import uuid

import httpx

from support.db import query
from support.fake_ollama import FakeOllama, Reply


def test_a_turns_thread_run_and_messages_get_increasing_version_7_ids(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["one"]), Reply(tokens=["two"]))

    thread_id = api.post("/chat", json={"message": "first"}).json()["thread_id"]
    api.post("/chat", json={"message": "second", "thread_id": thread_id}).raise_for_status()

    messages = query(
        database_url, "SELECT id FROM messages WHERE thread_id = :t ORDER BY seq", t=thread_id
    )
    runs = query(
        database_url, "SELECT id FROM runs WHERE thread_id = :t ORDER BY created_at", t=thread_id
    )
    message_ids = [row["id"] for row in messages]
    run_ids = [row["id"] for row in runs]
    assert len(message_ids) == 4
    assert len(run_ids) == 2
    assert {uuid.UUID(made).version for made in [thread_id, *message_ids, *run_ids]} == {7}
    assert sorted(message_ids) == message_ids
    assert sorted(run_ids) == run_ids
