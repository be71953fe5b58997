"""Tool use over real HTTP: the Ollama-protocol test server scripts tool calls, the agent runs
the tools, and every call and result is stored and streamed in order (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

from graphchat.agent.tools import Tool, ToolContext
from support.fake_ollama import FakeOllama, Reply, tool_calls
from support.server import LiveServer
from support.sse import frames

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


def _register(server: LiveServer, name: str, run: Any) -> None:
    """Register a test tool in the running app's registry (the in-process registry API)."""
    server.app.state.services.tools.register(
        Tool(name=name, description=f"test tool {name}", parameters=NO_ARGS, run=run)
    )


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


def _stored(api: httpx.Client, thread_id: str) -> list[tuple[Any, ...]]:
    messages = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    return [
        (
            m["role"],
            m["content"],
            m["tool_call_id"],
            m["name"],
            m["status"],
            [c["name"] for c in m["tool_calls"] or ()],
        )
        for m in messages
    ]


def test_a_two_round_tool_loop_answers_and_stores_every_step(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    ollama.queue(
        tool_calls(("c1", "calculator", {"expression": "17 * 3"})),
        tool_calls(("c2", "calculator", {"expression": "51 + 9"})),
        Reply(tokens=["The ", "answer ", "is 60."]),
    )

    response = api.post("/chat", json={"message": "What is 17*3+9?"})

    assert response.status_code == 200
    body = response.json()
    assert body["response"] == "The answer is 60."
    assert body["finish_reason"] == "stop"
    assert _stored(api, body["thread_id"]) == [
        ("user", "What is 17*3+9?", None, None, "complete", []),
        ("assistant", "", None, None, "complete", ["calculator"]),
        ("tool", "51", "c1", "calculator", "complete", []),
        ("assistant", "", None, None, "complete", ["calculator"]),
        ("tool", "60", "c2", "calculator", "complete", []),
        ("assistant", "The answer is 60.", None, None, "complete", []),
    ]
    first, second, third = ollama.chat_requests()
    assert _tool_names(first) == ["calculator", "current_time", "search_messages"]
    calculator = first["tools"][0]
    assert calculator["type"] == "function"
    assert calculator["function"]["parameters"]["required"] == ["expression"]
    user = {"role": "user", "content": "What is 17*3+9?"}
    call_1 = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "function": {"name": "calculator", "arguments": {"expression": "17 * 3"}}}
        ],
    }
    result_1 = {"role": "tool", "content": "51", "tool_name": "calculator", "tool_call_id": "c1"}
    call_2 = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c2", "function": {"name": "calculator", "arguments": {"expression": "51 + 9"}}}
        ],
    }
    result_2 = {"role": "tool", "content": "60", "tool_name": "calculator", "tool_call_id": "c2"}
    assert first["messages"] == [SYSTEM, user]
    assert second["messages"] == [SYSTEM, user, call_1, result_1]
    assert third["messages"] == [SYSTEM, user, call_1, result_1, call_2, result_2]
    assert _tool_names(third) == _tool_names(first)


def test_the_next_turn_sends_the_stored_tool_messages_back(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    ollama.queue(tool_calls(("c1", "calculator", {"expression": "2 ** 8"})), Reply(tokens=["256"]))
    thread_id = api.post("/chat", json={"message": "2^8?"}).json()["thread_id"]

    api.post("/chat", json={"message": "thanks", "thread_id": thread_id, "tools": []})

    sent = ollama.chat_requests()[-1]
    assert "tools" not in sent
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", SYSTEM["content"]),
        ("user", "2^8?"),
        ("assistant", ""),
        ("tool", "256"),
        ("assistant", "256"),
        ("user", "thanks"),
    ]


def test_the_round_limit_stops_a_model_that_keeps_calling_tools(
    start_server: Any, ollama: FakeOllama
) -> None:
    server = start_server(tool_max_rounds=2)
    ollama.queue(
        *[tool_calls((f"c{i}", "calculator", {"expression": f"{i} + 1"})) for i in range(4)]
    )

    with server.client() as api:
        response = api.post("/chat", json={"message": "loop"})
        assert response.status_code == 200
        stored = _stored(api, response.json()["thread_id"])
        runs = api.get(f"/threads/{response.json()['thread_id']}/runs").json()

    requests = ollama.chat_requests()
    assert [_tool_names(r) for r in requests] == [
        ["calculator", "current_time", "search_messages"],
        ["calculator", "current_time", "search_messages"],
        [],
    ]
    assert [(role, calls) for role, _, _, _, _, calls in stored] == [
        ("user", []),
        ("assistant", ["calculator"]),
        ("tool", []),
        ("assistant", ["calculator"]),
        ("tool", []),
        ("assistant", []),  # the calls asked for past the limit are dropped, never run
    ]
    assert response.json()["finish_reason"] == "stop"
    assert [run["status"] for run in runs] == ["success"]


def test_a_tool_that_raises_or_times_out_becomes_an_error_message(
    start_server: Any, ollama: FakeOllama
) -> None:
    server = start_server(tool_timeout_seconds=0.3)

    async def explode(arguments: dict[str, Any], context: ToolContext) -> str:
        raise RuntimeError("disk on fire")

    async def hang(arguments: dict[str, Any], context: ToolContext) -> str:
        await asyncio.sleep(60)
        return "never"

    _register(server, "explode", explode)
    _register(server, "hang", hang)
    ollama.queue(tool_calls(("e", "explode", {}), ("h", "hang", {})), Reply(tokens=["Sorry."]))

    with server.client() as api:
        response = api.post("/chat", json={"message": "try", "tools": ["explode", "hang"]})
        assert response.status_code == 200
        assert response.json()["response"] == "Sorry."
        stored = _stored(api, response.json()["thread_id"])

    assert stored[2:4] == [
        (
            "tool",
            "Error: tool 'explode' failed: RuntimeError: disk on fire",
            "e",
            "explode",
            "error",
            [],
        ),
        ("tool", "Error: tool 'hang' did not finish within 0.3 s", "h", "hang", "error", []),
    ]
    assert _tool_names(ollama.chat_requests()[0]) == ["explode", "hang"]
    assert ollama.chat_requests()[1]["messages"][-1]["content"].startswith("Error: tool 'hang'")


def test_a_model_without_tool_support_still_answers(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(
        Reply(status=400, error='"llama3.2:latest" does not support tools'),
        Reply(tokens=["No tools, ", "still here."]),
    )

    response = api.post("/chat", json={"message": "hello"})

    assert response.status_code == 200
    assert response.json()["response"] == "No tools, still here."
    with_tools, without = ollama.chat_requests()
    assert len(_tool_names(with_tools)) == 3
    assert "tools" not in without
    assert without["messages"] == with_tools["messages"]


def test_unknown_tool_names_are_refused_with_422(api: httpx.Client, ollama: FakeOllama) -> None:
    chat = api.post("/chat", json={"message": "x", "tools": ["calculator", "shell"]})
    invoke = api.post(
        "/invoke",
        json={
            "input": {"messages": [{"role": "user", "content": "x"}]},
            "config": {"configurable": {"tools": ["rm"]}},
        },
    )

    assert chat.status_code == 422
    assert chat.json()["error"]["details"][0]["loc"] == ["body", "tools"]
    assert "shell" in chat.json()["error"]["message"]
    assert invoke.status_code == 422
    assert invoke.json()["error"]["details"][0]["loc"] == [
        "body",
        "config",
        "configurable",
        "tools",
    ]
    assert ollama.chat_requests() == []


def test_a_request_or_thread_chooses_its_tools(api: httpx.Client, ollama: FakeOllama) -> None:
    thread = api.post("/threads", json={"metadata": {"tools": ["current_time"]}}).json()

    api.post("/chat", json={"message": "a", "thread_id": thread["thread_id"]})
    api.post(
        "/chat", json={"message": "b", "thread_id": thread["thread_id"], "tools": ["calculator"]}
    )
    api.post("/chat", json={"message": "c", "tools": []})

    assert [_tool_names(r) for r in ollama.chat_requests()] == [
        ["current_time"],
        ["calculator"],
        [],
    ]


def test_a_disabled_server_offers_no_tools_by_default(
    start_server: Any, ollama: FakeOllama
) -> None:
    server = start_server(tools_enabled="")

    with server.client() as api:
        api.post("/chat", json={"message": "plain"})
        api.post("/chat", json={"message": "calc", "tools": ["calculator"]})

    assert [_tool_names(r) for r in ollama.chat_requests()] == [[], ["calculator"]]


def test_tool_calls_and_results_are_streamed_as_they_happen(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    ollama.queue(
        tool_calls(("t1", "current_time", {"timezone": "Europe/Paris"})),
        Reply(tokens=["It is ", "noon."]),
    )

    with api.stream(
        "POST",
        "/stream",
        json={
            "input": {"messages": [{"role": "user", "content": "time?"}]},
            "stream_mode": ["messages", "updates"],
        },
    ) as response:
        events = [frame for frame in frames(response.iter_lines()) if frame.event]

    updates = [next(iter(e.json())) for e in events if e.event == "updates"]
    assert updates == ["agent", "tools", "agent"]
    tool_update = next(
        e.json()["tools"] for e in events if e.event == "updates" and "tools" in e.json()
    )
    assert '"timezone":"Europe/Paris"' in tool_update["messages"][0]["content"]
    calls = [
        e.json()[0]["tool_calls"]
        for e in events
        if e.event == "messages" and e.json()[0].get("tool_calls")
    ]
    assert calls == [
        [
            {
                "id": "t1",
                "name": "current_time",
                "args": {"timezone": "Europe/Paris"},
                "type": "tool_call",
            }
        ]
    ]
    order = [e.event for e in events if e.event in ("updates", "end")]
    assert order[-1] == "end"


def test_models_show_which_can_call_tools(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.capabilities = {
        "llama3.2:latest": ["completion", "tools"],
        "qwen2.5:0.5b": ["completion"],
    }
    try:
        models = {m["name"]: m["capabilities"] for m in api.get("/models").json()["models"]}
    finally:
        ollama.capabilities = {}

    assert "tools" in models["llama3.2:latest"]
    assert "tools" not in models["qwen2.5:0.5b"]


def test_the_tool_call_is_published_before_the_tool_finishes(
    server: LiveServer, ollama: FakeOllama
) -> None:
    seen_call = threading.Event()

    async def wait_for_client(arguments: dict[str, Any], context: ToolContext) -> str:
        released = await asyncio.to_thread(seen_call.wait, 10)
        return "released" if released else "the call was not streamed in time"

    _register(server, "gate", wait_for_client)
    ollama.queue(tool_calls(("g", "gate", {})), Reply(tokens=["done"]))
    body = {
        "input": {"messages": [{"role": "user", "content": "go"}]},
        "config": {"configurable": {"tools": ["gate"]}},
        "stream_mode": ["updates"],
    }

    tool_contents = []
    with server.client() as api, api.stream("POST", "/stream", json=body) as response:
        for frame in frames(response.iter_lines()):
            update = frame.json() if frame.event == "updates" else {}
            if any(m["tool_calls"] for m in update.get("agent", {}).get("messages", [])):
                seen_call.set()
            tool_contents += [m["content"] for m in update.get("tools", {}).get("messages", [])]

    assert tool_contents == ["released"]
