"""Approvals through the LangGraph server API, driven by the official `langgraph-sdk` client
(SQLite and PostgreSQL): a call that needs approval is a LangGraph interrupt carrying
LangChain's HITL request, and `command.resume` with HITL decisions continues the same run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from support.fake_ollama import FakeOllama, Reply, tool_calls
from support.server import LiveServer

MODES = ["messages-tuple", "values", "updates"]
REQUEST = {
    "action_requests": [
        {
            "name": "calculator",
            "args": {"expression": "17 * 3"},
            "description": "Tool execution requires approval",
        }
    ],
    "review_configs": [
        {"action_name": "calculator", "allowed_decisions": ["approve", "edit", "reject"]}
    ],
}


@pytest.fixture
def server(start_server: Any) -> LiveServer:
    """Calls to the calculator wait for approval."""
    started: LiveServer = start_server(tools_require_approval="calculator")
    return started


@pytest.fixture
def sdk(server: LiveServer) -> Iterator[SyncLangGraphClient]:
    client = get_sync_client(url=server.url, api_key=None)
    yield client
    client.http.client.close()


def _resume(*decisions: dict[str, Any]) -> dict[str, Any]:
    return {"resume": {"decisions": list(decisions)}}


def _pause(sdk: SyncLangGraphClient, ollama: FakeOllama) -> tuple[str, dict[str, Any]]:
    """A thread whose run paused on a calculator call; `runs.wait`'s values."""
    thread_id = sdk.threads.create()["thread_id"]
    ollama.queue(tool_calls(("c1", "calculator", {"expression": "17 * 3"})))
    values = sdk.runs.wait(
        thread_id, "agent", input={"messages": [{"role": "user", "content": "17*3?"}]}
    )
    assert isinstance(values, dict)
    return thread_id, values


def _types(messages: list[dict[str, Any]]) -> list[str]:
    return [message["type"] for message in messages]


def test_a_pause_is_an_interrupt_in_the_stream_state_and_thread(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    thread_id = sdk.threads.create()["thread_id"]
    ollama.queue(tool_calls(("c1", "calculator", {"expression": "17 * 3"})))

    parts = list(
        sdk.runs.stream(
            thread_id,
            "agent",
            input={"messages": [{"role": "user", "content": "17*3?"}]},
            stream_mode=MODES,
        )
    )
    run_id = parts[0].data["run_id"]
    thread = sdk.threads.get(thread_id)
    state = sdk.threads.get_state(thread_id)
    latest = sdk.threads.get_history(thread_id, limit=1)[0]
    found = sdk.threads.search(status="interrupted")
    run = sdk.runs.get(thread_id, run_id)

    interrupt = [p.data for p in parts if p.event == "updates"][-1]["__interrupt__"][0]
    assert interrupt["value"] == REQUEST and interrupt["id"]
    assert [p.data for p in parts if p.event == "values"][-1] == {"__interrupt__": [interrupt]}
    assert (parts[-1].event, parts[-1].data) == ("end", {"status": "interrupted"})
    assert (thread["status"], thread["interrupts"]) == ("interrupted", {run_id: [interrupt]})
    assert [t["thread_id"] for t in found] == [thread_id]
    assert found[0]["interrupts"] == {run_id: [interrupt]}
    assert (run["status"], run["graphchat_status"]) == ("interrupted", "requires_action")
    for view in (state, latest):
        assert view["next"] == ["tools"] and view["interrupts"] == [interrupt]
        assert [(t["name"], t["interrupts"]) for t in view["tasks"]] == [("tools", [interrupt])]
    # Nothing ran: the model was asked once, and no tool message was stored.
    assert _types(state["values"]["messages"]) == ["human", "ai"]
    assert state["values"]["messages"][-1]["tool_calls"][0]["args"] == {"expression": "17 * 3"}
    assert len(ollama.chat_requests()) == 1


def test_resume_approve_streams_the_same_run_to_its_answer(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    thread_id, paused = _pause(sdk, ollama)
    ollama.queue(Reply(tokens=["It is ", "51."]))

    parts = list(
        sdk.runs.stream(
            thread_id, "agent", input={}, command=_resume({"type": "approve"}), stream_mode=MODES
        )
    )
    runs = sdk.runs.list(thread_id)
    thread = sdk.threads.get(thread_id)

    assert paused["__interrupt__"][0]["value"] == REQUEST
    assert parts[0].data["run_id"] == runs[0]["run_id"] and len(runs) == 1
    chunks = [p.data[0] for p in parts if p.event == "messages"]
    assert [c["content"] for c in chunks if c["type"] == "tool"] == ["51"]
    assert "".join(c["content"] for c in chunks if c["type"] == "AIMessageChunk") == "It is 51."
    final = [p.data for p in parts if p.event == "values"][-1]
    assert "__interrupt__" not in final
    assert _types(final["messages"]) == ["human", "ai", "tool", "ai"]
    assert (parts[-1].event, parts[-1].data) == ("end", {"status": "success"})
    assert (thread["status"], thread["interrupts"], runs[0]["status"]) == ("idle", {}, "success")
    assert sdk.threads.get_state(thread_id)["tasks"] == []


def test_resume_edit_by_interrupt_id_runs_the_edited_call(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    thread_id, paused = _pause(sdk, ollama)
    ollama.queue(Reply(tokens=["42."]))
    edit = {"type": "edit", "edited_action": {"name": "calculator", "args": {"expression": "6*7"}}}
    keyed = {"resume": {paused["__interrupt__"][0]["id"]: {"decisions": [edit]}}}

    values = sdk.runs.wait(thread_id, "agent", command=keyed)

    assert isinstance(values, dict)
    tool, answer = values["messages"][2:]
    note = '[run with arguments edited by the user: {"expression":"6*7"}]\n42'
    assert (tool["type"], tool["content"]) == ("tool", note)
    assert (answer["type"], answer["content"]) == ("ai", "42.")
    assert ollama.chat_requests()[-1]["messages"][-1]["content"] == note


def test_resume_reject_in_the_background_tells_the_model(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    thread_id, _ = _pause(sdk, ollama)
    paused_run = sdk.runs.list(thread_id)[0]["run_id"]
    ollama.queue(Reply(tokens=["Fine."]))

    run = sdk.runs.create(
        thread_id, "agent", command=_resume({"type": "reject", "message": "do it by hand"})
    )
    values = sdk.runs.join(thread_id, run["run_id"])

    assert run["run_id"] == paused_run
    assert isinstance(values, dict)
    tool = values["messages"][2]
    error = "Error: the user rejected this tool call: do it by hand"
    assert (tool["type"], tool["status"], tool["content"]) == ("tool", "error", error)
    assert values["messages"][-1]["content"] == "Fine."
    assert ollama.chat_requests()[-1]["messages"][-1]["content"] == error


def _post(server: LiveServer, thread_id: str, command: dict[str, Any]) -> httpx.Response:
    with server.client() as api:
        return api.post(
            f"/threads/{thread_id}/runs/wait", json={"assistant_id": "agent", "command": command}
        )


def test_resuming_wrongly_is_refused_and_the_pause_stays(
    sdk: SyncLangGraphClient, server: LiveServer, ollama: FakeOllama
) -> None:
    idle = sdk.threads.create()["thread_id"]
    thread_id, _ = _pause(sdk, ollama)

    nothing = _post(server, idle, _resume({"type": "approve"}))
    too_many = _post(server, thread_id, _resume({"type": "approve"}, {"type": "approve"}))
    bad_shape = _post(server, thread_id, {"resume": "yes"})
    goto = _post(server, thread_id, {"goto": "__end__"})
    with server.client() as api:
        stateless = api.post(
            "/runs/wait", json={"assistant_id": "agent", "command": _resume({"type": "approve"})}
        )

    # A thread with nothing paused, or a stateless run's new thread: nothing to resume.
    for idle_run in (nothing, stateless):
        assert idle_run.status_code == 409
        assert idle_run.json()["error"]["code"] == "run_not_paused"
    for refused in (too_many, bad_shape, goto):
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["message"]
    assert sdk.threads.get(thread_id)["status"] == "interrupted"
    assert len(ollama.chat_requests()) == 1
