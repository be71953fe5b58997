"""Message storage is append-only: turns INSERT new rows and never rewrite earlier ones."""

from __future__ import annotations

import httpx

from support.db import message_rewrites_forbidden, query
from support.fake_ollama import FakeOllama, Reply


def test_turns_only_insert_messages(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    assert api.post("/chat", json={"message": "first", "thread_id": "log"}).is_success
    before = query(database_url, "SELECT * FROM messages WHERE thread_id = 'log' ORDER BY seq")
    with message_rewrites_forbidden(database_url):  # any UPDATE or DELETE on messages fails
        ollama.queue(Reply(tokens=["x"], error_after=0))  # a failed turn stores its reply too
        failed = api.post("/chat", json={"message": "second", "thread_id": "log"})
        for text in ("third", "fourth"):
            assert api.post("/chat", json={"message": text, "thread_id": "log"}).is_success

    assert failed.status_code == 502
    after = query(database_url, "SELECT * FROM messages WHERE thread_id = 'log' ORDER BY seq")
    assert after[: len(before)] == before
    assert [m["seq"] for m in after] == list(range(1, 9))
    assert [m["content"] for m in after[2:]] == [
        "second",
        "",
        "third",
        "You said: third",
        "fourth",
        "You said: fourth",
    ]
