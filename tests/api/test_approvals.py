"""Human approval of tool calls over real HTTP (SQLite and PostgreSQL): a call to a tool that
needs approval ends the run `requires_action` with nothing run; `resume` approves, edits or
rejects each pending call and the same run goes on, in this process or after a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from graphchat.agent.tools import Tool, ToolContext
from support.fake_ollama import FakeOllama, Reply, tool_calls
from support.server import LiveServer
from support.sse import frames

Server = Callable[..., LiveServer]


@pytest.fixture
def server(start_server: Server) -> LiveServer:
    """The `api` fixture's server: calls to the calculator wait for approval."""
    return start_server(tools_require_approval="calculator")


def _stored(api: httpx.Client, thread_id: str) -> list[tuple[str, str, str]]:
    messages = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    return [(m["role"], m["content"], m["status"]) for m in messages]


def _pause(api: httpx.Client, ollama: FakeOllama, expression: str = "17 * 3") -> dict[str, Any]:
    """A turn whose model calls the calculator, which this server makes wait for approval."""
    ollama.queue(tool_calls(("c1", "calculator", {"expression": expression})))
    response = api.post("/chat", json={"message": "What is 17*3?"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _resume(api: httpx.Client, paused: dict[str, Any], *decisions: Any) -> httpx.Response:
    url = f"/threads/{paused['thread_id']}/runs/{paused['run_id']}/resume"
    return api.post(url, json={"decisions": list(decisions)})


def test_a_call_that_needs_approval_pauses_the_run_and_runs_nothing(
    start_server: Server, ollama: FakeOllama
) -> None:
    server = start_server()
    ran: list[dict[str, Any]] = []

    async def record(arguments: dict[str, Any], context: ToolContext) -> str:
        ran.append(arguments)
        return "sent"

    server.app.state.services.tools.register(
        Tool(name="send_email", description="Send an email", parameters={}, run=record)
    )
    ollama.queue(tool_calls(("m1", "send_email", {"to": "boss@example.com"})))

    with server.client() as api:
        response = api.post(
            "/chat",
            json={
                "message": "mail my boss",
                "tools": ["send_email"],
                "require_approval": ["send_*"],
            },
        )
        body = response.json()
        run = api.get(f"/threads/{body['thread_id']}/runs/{body['run_id']}").json()
        stored = _stored(api, body["thread_id"])
        paused = api.get(
            f"/threads/{body['thread_id']}/runs", params={"status": "requires_action"}
        ).json()

    assert response.status_code == 200
    assert body["status"] == "requires_action"
    calls = [{"id": "m1", "name": "send_email", "args": {"to": "boss@example.com"}}]
    assert body["pending"]["calls"] == calls
    assert body["pending"]["message_id"] == body["messages"][-1]["id"]
    assert (run["status"], run["graphchat_status"]) == ("interrupted", "requires_action")
    assert run["pending"] == body["pending"]
    assert [r["run_id"] for r in paused] == [body["run_id"]]
    assert stored == [("user", "mail my boss", "complete"), ("assistant", "", "complete")]
    assert ran == []
    assert len(ollama.chat_requests()) == 1


def test_approve_runs_the_call_and_the_model_answers(api: httpx.Client, ollama: FakeOllama) -> None:
    paused = _pause(api, ollama)
    ollama.queue(Reply(tokens=["It is ", "51."]))
    response = _resume(api, paused, {"type": "approve"})
    stored = _stored(api, paused["thread_id"])
    run = api.get(f"/threads/{paused['thread_id']}/runs/{paused['run_id']}").json()

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["run_id"], body["status"], body["response"]) == (
        paused["run_id"],
        "success",
        "It is 51.",
    )
    assert body["pending"] is None
    assert stored[2:] == [("tool", "51", "complete"), ("assistant", "It is 51.", "complete")]
    assert (run["status"], run["pending"]) == ("success", None)
    assert ollama.chat_requests()[-1]["messages"][-1] == {
        "role": "tool",
        "content": "51",
        "tool_name": "calculator",
        "tool_call_id": "c1",
    }


def test_edit_runs_the_call_with_the_edited_arguments(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    paused = _pause(api, ollama)
    ollama.queue(Reply(tokens=["42."]))
    response = _resume(api, paused, {"type": "edit", "args": {"expression": "6 * 7"}})

    assert response.status_code == 200, response.text
    sent = ollama.chat_requests()[-1]["messages"][-1]
    assert sent["role"] == "tool"
    assert sent["content"].endswith("\n42")
    assert '"expression":"6 * 7"' in sent["content"]
    assert response.json()["response"] == "42."


def test_reject_sends_the_model_an_error_tool_message(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    paused = _pause(api, ollama)
    ollama.queue(Reply(tokens=["Fine, I will not."]))
    response = _resume(api, paused, {"type": "reject", "message": "do it by hand"})
    stored = _stored(api, paused["thread_id"])

    assert response.status_code == 200, response.text
    error = "Error: the user rejected this tool call: do it by hand"
    assert ollama.chat_requests()[-1]["messages"][-1]["content"] == error
    assert stored[2:] == [("tool", error, "error"), ("assistant", "Fine, I will not.", "complete")]


def test_a_pause_survives_a_restart(start_server: Server, ollama: FakeOllama) -> None:
    first = start_server(tools_require_approval="calculator")
    with first.client() as api:
        paused = _pause(api, ollama)
    first.stop()

    second = start_server(tools_require_approval="")  # the pause keeps its own approval set
    ollama.queue(Reply(tokens=["51, after a restart."]))
    with second.client() as api:
        response = _resume(api, paused, {"type": "approve"})
        stored = _stored(api, paused["thread_id"])

    assert response.status_code == 200, response.text
    assert response.json()["response"] == "51, after a restart."
    assert [role for role, _, _ in stored] == ["user", "assistant", "tool", "assistant"]


def test_resuming_a_run_that_is_not_paused_is_a_409(api: httpx.Client, ollama: FakeOllama) -> None:
    done = api.post("/chat", json={"message": "hi"}).json()
    not_paused = _resume(api, done, {"type": "approve"})
    paused = _pause(api, ollama)
    too_many = _resume(api, paused, {"type": "approve"}, {"type": "approve"})
    bad_shape = _resume(api, paused, {"type": "edit"})
    ollama.queue(Reply(tokens=["ok"]))
    first = _resume(api, paused, {"type": "approve"})
    again = _resume(api, paused, {"type": "approve"})

    assert not_paused.status_code == 409
    assert not_paused.json()["error"]["code"] == "run_not_paused"
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"][0]["loc"] == ["body", "decisions"]
    assert bad_shape.status_code == 422
    assert first.status_code == 200
    assert again.status_code == 409


def test_a_new_message_closes_the_pause_and_cancel_closes_it_too(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    paused = _pause(api, ollama)
    ollama.queue(Reply(tokens=["Moving on."]))
    follow_up = api.post("/chat", json={"message": "never mind", "thread_id": paused["thread_id"]})
    first_run = api.get(f"/threads/{paused['thread_id']}/runs/{paused['run_id']}").json()
    stored = _stored(api, paused["thread_id"])

    other = _pause(api, ollama)
    cancel = api.post(f"/threads/{other['thread_id']}/runs/{other['run_id']}/cancel")
    after_cancel = _stored(api, other["thread_id"])

    assert follow_up.status_code == 200
    assert follow_up.json()["response"] == "Moving on."
    assert first_run["graphchat_status"] == "cancelled"
    not_run = "Error: not run: the user sent a new message instead of deciding on this call"
    assert stored[2:] == [
        ("tool", not_run, "error"),
        ("user", "never mind", "complete"),
        ("assistant", "Moving on.", "complete"),
    ]
    assert ollama.chat_requests()[1]["messages"][-2]["content"] == not_run
    assert cancel.status_code == 200
    assert cancel.json()["graphchat_status"] == "cancelled"
    assert after_cancel[-1][0] == "tool"
    assert after_cancel[-1][1].startswith("Error: not run: the run was cancelled")


def test_the_pause_and_the_resumed_run_stream(start_server: Server, ollama: FakeOllama) -> None:
    server = start_server(tools_require_approval="calculator")
    ollama.queue(tool_calls(("c1", "calculator", {"expression": "2 + 2"})))
    body = {"input": {"messages": [{"role": "user", "content": "2+2?"}]}}
    with server.client() as api:
        with api.stream("POST", "/stream", json=body) as response:
            first = [f for f in frames(response.iter_lines()) if f.event]
        end = first[-1].json()
        ollama.queue(Reply(tokens=["Four", "."]))
        url = f"/threads/{end['thread_id']}/runs/{end['run_id']}/resume"
        with api.stream(
            "POST", url, params={"stream": "true"}, json={"decisions": [{"type": "approve"}]}
        ) as response:
            assert response.status_code == 200
            second = [f for f in frames(response.iter_lines()) if f.event]

    assert (first[-1].event, end["status"]) == ("end", "requires_action")
    assert end["pending"]["calls"] == [
        {"id": "c1", "name": "calculator", "args": {"expression": "2 + 2"}}
    ]
    assert second[0].event == "metadata"
    assert int(second[0].id or 0) > int(first[-1].id or 0)  # the same run's events go on
    chunks = [f.json()[0] for f in second if f.event == "messages"]
    assert [c["content"] for c in chunks if c["type"] == "tool"] == ["4"]
    assert "".join(c["content"] for c in chunks if c["type"] == "AIMessageChunk") == "Four."
    assert second[-1].event == "end"
    assert second[-1].json()["status"] == "success"


def test_rejoining_a_resumed_run_follows_it_past_the_pause(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    paused = _pause(api, ollama)
    ollama.queue(Reply(tokens=["Fifty", "-one."]))
    assert _resume(api, paused, {"type": "approve"}).status_code == 200
    url = f"/threads/{paused['thread_id']}/runs/{paused['run_id']}/stream"
    with api.stream("GET", url, params={"stream_mode": "updates"}) as response:
        events = [f for f in frames(response.iter_lines()) if f.event]

    ends = [f.json()["status"] for f in events if f.event == "end"]
    assert ends == ["success"]  # the pause's own `end` is passed over
    assert [f.event for f in events].count("metadata") == 2
    contents = [
        m["content"]
        for f in events
        if f.event == "updates"
        for n in f.json().values()
        for m in n["messages"]
    ]
    assert contents == ["", "51", "Fifty-one."]


def test_branches_stay_put_while_a_run_waits_for_approval(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    paused = _pause(api, ollama)
    thread_id = paused["thread_id"]
    first = api.get(f"/threads/{thread_id}/messages").json()["messages"][0]["id"]
    refused = api.put(f"/threads/{thread_id}/leaf", json={"message_id": first})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "thread_busy")
    # The resumed run continues the paused branch: the tool result follows its call.
    assert _resume(api, paused, {"type": "approve"}).status_code == 200
    stored = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert [m["parent_id"] for m in stored[1:]] == [m["id"] for m in stored[:-1]]
