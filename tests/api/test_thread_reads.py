"""A thread's view (`GET /threads/{id}`, LangGraph's `…/state`) reads the thread, then its newest
run and its branch in one store call: status, state and pause come from those statements. A
paused run is the thread's newest, as a new turn closes the pauses before it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.support.server import LiveServer
from tests.support.statements import recorded

from graphchat.store import Store
from support.fake_ollama import FakeOllama, Reply, tool_calls


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """Calculator calls wait for approval; the run monitor stays silent (only reads are sent)."""
    return start_server(
        tools_require_approval="calculator", run_heartbeat_seconds=3600, run_stale_seconds=7200
    )


def _views(api: httpx.Client, thread_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    thread, state = api.get(f"/threads/{thread_id}"), api.get(f"/threads/{thread_id}/state")
    assert thread.status_code == state.status_code == 200, (thread.text, state.text)
    return thread.json(), state.json()


def test_a_thread_and_its_state_read_the_newest_run_with_the_branch(server: LiveServer) -> None:
    store: Store = server.app.state.services.store
    with server.client() as api:
        api.post("/chat", json={"message": "hello", "thread_id": "read-me"}).raise_for_status()
        with recorded(store) as thread_reads:
            api.get("/threads/read-me").raise_for_status()
        with recorded(store) as state_reads:
            api.get("/threads/read-me/state").raise_for_status()
        thread, state = _views(api, "read-me")

    plan = ["SELECT threads", "SELECT runs", "WITH branch"]
    if store.engine.dialect.name == "postgresql":  # each read alone: no BEGIN and COMMIT
        plan = [statement + " (alone)" for statement in plan]
    assert thread_reads == state_reads == plan
    assert (thread["status"], thread["interrupts"]) == ("idle", {})
    assert [m["type"] for m in thread["values"]["messages"]] == ["human", "ai"]
    assert state["values"] == thread["values"] and state["next"] == []


def test_a_pause_shows_until_a_new_message_closes_it(
    server: LiveServer, ollama: FakeOllama
) -> None:
    ollama.queue(tool_calls(("c1", "calculator", {"expression": "17 * 3"})))
    with server.client() as api:
        paused = api.post("/chat", json={"message": "17*3?", "thread_id": "pause-me"}).json()
        thread_paused, state_paused = _views(api, "pause-me")
        ollama.queue(Reply(tokens=["Moving on."]))
        api.post("/chat", json={"message": "never mind", "thread_id": "pause-me"})
        thread_after, state_after = _views(api, "pause-me")

    assert thread_paused["status"] == "interrupted"
    interrupts = thread_paused["interrupts"][paused["run_id"]]
    assert [i["value"]["action_requests"][0]["name"] for i in interrupts] == ["calculator"]
    assert state_paused["next"] == ["tools"] and state_paused["interrupts"] == interrupts
    assert (thread_after["status"], thread_after["interrupts"]) == ("idle", {})
    assert state_after["next"] == [] and state_after["interrupts"] == []
    assert state_after["values"]["messages"][-1]["content"] == "Moving on."


def test_a_search_reads_the_pauses_of_all_its_paused_threads_at_once(
    server: LiveServer, ollama: FakeOllama
) -> None:
    store: Store = server.app.state.services.store
    paused: dict[str, list[str]] = {}
    with server.client() as api:
        for thread_id in ("paused-1", "paused-2", "paused-3"):
            ollama.queue(tool_calls((f"call-{thread_id}", "calculator", {"expression": "1+1"})))
            reply = api.post("/chat", json={"message": "1+1?", "thread_id": thread_id}).json()
            paused[thread_id] = [reply["run_id"]]
        api.post("/chat", json={"message": "hello", "thread_id": "idle"}).raise_for_status()
        with recorded(store) as reads:
            found = api.post("/threads/search", json={"limit": 10})

    assert found.status_code == 200, found.text
    interrupts = {thread["thread_id"]: list(thread["interrupts"]) for thread in found.json()}
    assert interrupts == {**paused, "idle": []}
    # The threads with their last runs' status, their first messages, then every pause at once.
    assert len(reads) == 3 and reads[-1].startswith("SELECT runs"), reads
