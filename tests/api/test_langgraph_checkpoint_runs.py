"""A LangGraph run from a checkpoint, as agent-chat-ui sends every run (its history's head):
the leaf this process keeps is not read again before begin, which checks it is still the leaf;
a checkpoint another replica's turn has since followed forks there, as LangGraph does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.statements import recorded

from graphchat.store import Store
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer


def _run(text: str, checkpoint: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "assistant_id": "agent",
        "input": {"messages": [{"type": "human", "content": text}]},
    }
    if checkpoint is not None:
        body["checkpoint"] = {"checkpoint_id": checkpoint}
    return body


def _head(server: LiveServer, thread_id: str) -> str:
    with server.client() as api:
        history = api.post(f"/threads/{thread_id}/history", json={"limit": 10}).json()
    return str(history[0]["checkpoint"]["checkpoint_id"])


def _waited(server: LiveServer, thread_id: str, body: dict[str, Any]) -> None:
    with server.client() as api:
        response = api.post(f"/threads/{thread_id}/runs/wait", json=body)
    assert response.status_code == 200, response.text


def _new_thread(server: LiveServer) -> str:
    with server.client() as api:
        return str(api.post("/threads", json={"metadata": {}}).json()["thread_id"])


def test_a_run_from_the_head_it_kept_sends_what_a_run_without_a_checkpoint_sends(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(run_heartbeat_seconds=3600, run_stale_seconds=7200)
    store: Store = server.app.state.services.store
    thread_id = _new_thread(server)
    _waited(server, thread_id, _run("first"))

    with recorded(store) as without:
        _waited(server, thread_id, _run("second"))
    head = _head(server, thread_id)
    with recorded(store) as from_head:
        _waited(server, thread_id, _run("third", head))

    reads = [statement for statement in from_head if statement.startswith("SELECT")]
    assert from_head == without, reads  # no read of the checkpoint before begin


def test_a_checkpoint_another_replica_has_since_continued_forks_there(
    start_server: Callable[..., LiveServer], ollama: FakeOllama
) -> None:
    here, elsewhere = start_server(), start_server()
    thread_id = _new_thread(here)
    ollama.queue(Reply(tokens=["answer one"]))
    _waited(here, thread_id, _run("one"))
    seen_here = _head(here, thread_id)  # what a client of this replica shows: the leaf it keeps
    ollama.queue(Reply(tokens=["answer two"]))
    _waited(elsewhere, thread_id, _run("two"))

    ollama.queue(Reply(tokens=["answer three"]))
    _waited(here, thread_id, _run("three", seen_here))

    sent = [m["content"] for m in ollama.chat_requests()[-1]["messages"] if m["role"] != "system"]
    with elsewhere.client() as api:  # read by the other replica: what was stored, not kept
        shown = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert sent == ["one", "answer one", "three"]
    assert [m["content"] for m in shown] == ["one", "answer one", "three", "answer three"]
    assert shown[2]["parent_id"] == shown[1]["id"]
    assert shown[2]["sibling_count"] == 2  # "two", the other replica's turn, stays beside it
