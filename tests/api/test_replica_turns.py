"""Turns on one thread alternating between two replicas: each model call sees the whole
conversation, whichever replica stored its turns (on PostgreSQL, a replica that wrote the
thread last starts the run's graph before its begin lands; begin's turn decides)."""

from __future__ import annotations

from collections.abc import Callable

from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

THREAD = "t-two-replicas"


def test_each_model_call_sees_the_turns_the_other_replica_stored(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    replicas = [start_server(), start_server()]
    order = [0, 0, 1, 0, 1, 1, 0]
    expected: list[str] = []
    for number, which in enumerate(order):
        ollama.queue(Reply(tokens=[f"answer {number}"]))
        with replicas[which].client() as api:
            response = api.post(
                "/chat", json={"message": f"question {number}", "thread_id": THREAD}
            )
            assert response.status_code == 200, response.text
            stored = api.get(f"/threads/{THREAD}/messages").json()["messages"]

        expected += [f"question {number}", f"answer {number}"]
        sent = [
            m["content"] for m in ollama.chat_requests()[-1]["messages"] if m["role"] != "system"
        ]
        assert sent == expected[:-1]
        assert [m["content"] for m in stored] == expected
        assert [m["seq"] for m in stored] == list(range(1, len(expected) + 1))
