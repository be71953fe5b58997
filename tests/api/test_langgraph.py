"""The LangGraph server API, driven by the official `langgraph-sdk` client against a live server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

ASSISTANT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
MODES = ["messages-tuple", "values", "updates"]


def _say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _status(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The HTTP status and error object of a call the SDK raised for."""
    with pytest.raises(httpx.HTTPStatusError) as raised:
        call()
    return raised.value.response.status_code, raised.value.response.json()["error"]


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def sdk(server: LiveServer) -> Iterator[SyncLangGraphClient]:
    client = get_sync_client(url=server.url, api_key=None)
    yield client
    client.http.client.close()


def _stream(client: SyncLangGraphClient, thread_id: str | None, text: str) -> list[Any]:
    return list(client.runs.stream(thread_id, "agent", input=_say(text), stream_mode=MODES))


def test_assistant_is_found_by_id_name_and_search(sdk: SyncLangGraphClient) -> None:
    by_name = sdk.assistants.get("agent")
    assert by_name["assistant_id"] == ASSISTANT_ID and by_name["graph_id"] == "agent"
    assert sdk.assistants.get(ASSISTANT_ID) == by_name
    assert sdk.assistants.search(graph_id="agent") == [by_name]
    assert sdk.assistants.search(graph_id="other") == []
    with pytest.raises(NotFoundError):
        sdk.assistants.get("nope")


def test_streamed_turns_carry_tokens_updates_and_the_whole_conversation(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    thread = sdk.threads.create(metadata={"topic": "greeting"})
    assert thread["status"] == "idle" and thread["values"] is None
    ollama.queue(Reply(tokens=["Hel", "lo"]), Reply(tokens=["Fine", "."]))

    first = _stream(sdk, thread["thread_id"], "hi")
    second = _stream(sdk, thread["thread_id"], "how are you?")

    assert first[0].event == "metadata"
    chunks = [part.data[0] for part in first if part.event == "messages"]
    assert [chunk["content"] for chunk in chunks] == ["Hel", "lo"]
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["type"] == "AIMessageChunk"
    updates = [part.data for part in first if part.event == "updates"]
    assert updates[-1]["agent"]["messages"][0]["content"] == "Hello"
    assert updates[-1]["agent"]["messages"][0]["id"] == chunks[0]["id"]
    final = [part.data for part in second if part.event == "values"][-1]["messages"]
    assert [(m["type"], m["content"]) for m in final] == [
        ("human", "hi"),
        ("ai", "Hello"),
        ("human", "how are you?"),
        ("ai", "Fine."),
    ]
    assert final[1]["usage_metadata"]["input_tokens"] == 7
    assert second[-1].event == "end"
    fetched = sdk.threads.get(thread["thread_id"])
    assert fetched["values"]["messages"] == final and fetched["status"] == "idle"


@pytest.mark.parametrize("context", [2, 50])
def test_a_runs_first_values_are_the_thread_it_found_and_its_input(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, context: int
) -> None:
    # The turn reads the thread's newest 200 messages for `values`, and the model still sees
    # only its context window: 2 messages, or the whole thread with 50.
    server = start_server(context_max_messages=context)
    client = get_sync_client(url=server.url, api_key=None)
    thread_id = client.threads.create()["thread_id"]
    for turn in range(4):
        before = client.threads.get_state(thread_id)["values"]
        parts = _stream(client, thread_id, f"turn {turn}")
        first = next(part.data for part in parts if part.event == "values")
        earlier = before["messages"] if before else []
        assert [m["id"] for m in first["messages"][:-1]] == [m["id"] for m in earlier]
        assert first["messages"][:-1] == earlier
        assert (first["messages"][-1]["type"], first["messages"][-1]["content"]) == (
            "human",
            f"turn {turn}",
        )
    assert len(earlier) == 6
    sent = [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]]
    assert sent == [m["content"] for m in [*earlier, first["messages"][-1]]][-context:]
    client.http.client.close()


@pytest.mark.parametrize("context", [2, 50])
def test_wait_returns_the_thread_as_the_run_left_it(
    start_server: Callable[..., LiveServer], context: int
) -> None:
    client = get_sync_client(url=start_server(context_max_messages=context).url)
    thread_id = client.threads.create()["thread_id"]
    for turn in range(3):
        values = client.runs.wait(thread_id, "agent", input=_say(f"turn {turn}"))
        assert isinstance(values, dict)
        assert values["messages"] == client.threads.get_state(thread_id)["values"]["messages"]
    assert [m["content"] for m in values["messages"]][-2:] == ["turn 2", "You said: turn 2"]
    assert len(values["messages"]) == 6
    client.http.client.close()


def test_wait_returns_the_final_values(sdk: SyncLangGraphClient) -> None:
    thread = sdk.threads.create()
    values = sdk.runs.wait(thread["thread_id"], "agent", input=_say("ping"))
    assert isinstance(values, dict)
    assert [m["content"] for m in values["messages"]] == ["ping", "You said: ping"]


def test_background_run_is_joined_listed_and_read(sdk: SyncLangGraphClient) -> None:
    thread = sdk.threads.create()
    run = sdk.runs.create(thread["thread_id"], ASSISTANT_ID, input=_say("later"))
    assert run["status"] in ("pending", "running", "success")
    assert run["assistant_id"] == ASSISTANT_ID

    values = sdk.runs.join(thread["thread_id"], run["run_id"])

    assert values["messages"][-1]["content"] == "You said: later"
    listed = sdk.runs.list(thread["thread_id"])
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert sdk.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"


def test_join_stream_mid_run_and_after_the_end(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=[f"t{i} " for i in range(20)], token_delay=0.03))
    thread = sdk.threads.create()
    run = sdk.runs.create(thread["thread_id"], "agent", input=_say("slow"))

    live = list(sdk.runs.join_stream(thread["thread_id"], run["run_id"]))
    replay = list(
        sdk.runs.join_stream(
            thread["thread_id"], run["run_id"], stream_mode="messages-tuple", last_event_id="-1"
        )
    )
    tail = list(sdk.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="5"))

    assert live[-1].event == "end"
    [update] = [p.data["agent"]["messages"][0] for p in live if p.event == "updates"]
    assert update["content"] == "".join(f"t{i} " for i in range(20))
    tokens = [p.data[0]["content"] for p in replay if p.event == "messages"]
    assert tokens == [f"t{i} " for i in range(20)]
    assert "metadata" not in [p.event for p in tail] and tail[-1].event == "end"


def test_cancel_stops_a_run_as_interrupted(sdk: SyncLangGraphClient, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["a "] * 200, token_delay=0.05))
    thread = sdk.threads.create()
    run = sdk.runs.create(thread["thread_id"], "agent", input=_say("long"))
    _wait_for(
        lambda: sdk.threads.search(status="busy", ids=[thread["thread_id"]]) != [],
        "the thread to be busy",
    )

    sdk.runs.cancel(thread["thread_id"], run["run_id"], wait=True)

    stopped = sdk.runs.get(thread["thread_id"], run["run_id"])
    assert stopped["status"] == "interrupted" and stopped["graphchat_status"] == "cancelled"
    assert sdk.threads.get(thread["thread_id"])["status"] == "idle"


def test_threads_are_searched_by_metadata_and_status(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    red = sdk.threads.create(metadata={"color": "red", "n": 1})
    blue = sdk.threads.create(metadata={"color": "blue"})
    sdk.runs.wait(red["thread_id"], "agent", input=_say("first words"))
    ollama.queue(Reply(status=404, error="model 'x' not found"))
    with pytest.raises(httpx.HTTPStatusError):
        sdk.runs.wait(blue["thread_id"], "agent", input=_say("fails"))

    found = sdk.threads.search(metadata={"color": "red"})
    assert [t["thread_id"] for t in found] == [red["thread_id"]]
    assert found[0]["values"]["messages"][0]["content"] == "first words"
    assert [t["thread_id"] for t in sdk.threads.search(metadata={"n": 1})] == [red["thread_id"]]
    assert [t["thread_id"] for t in sdk.threads.search(status="error")] == [blue["thread_id"]]
    idle = [t["thread_id"] for t in sdk.threads.search(status="idle")]
    assert idle == [red["thread_id"]]
    by_graph = sdk.threads.search(metadata={"graph_id": "agent"}, limit=1, offset=1)
    assert len(by_graph) == 1
    assert sdk.threads.search(metadata={"graph_id": "another"}) == []


def test_state_and_history_are_synthesised_from_the_log(sdk: SyncLangGraphClient) -> None:
    thread = sdk.threads.create()
    empty = sdk.threads.get_state(thread["thread_id"])
    assert empty["checkpoint"]["checkpoint_id"] is None and empty["values"]["messages"] == []
    assert sdk.threads.get_history(thread["thread_id"]) == []
    for text in ("one", "two"):
        sdk.runs.wait(thread["thread_id"], "agent", input=_say(text))

    state = sdk.threads.get_state(thread["thread_id"])
    history = sdk.threads.get_history(thread["thread_id"])

    assert len(history) == 4 and history[0] == state
    ids = [h["checkpoint"]["checkpoint_id"] for h in history]
    assert ids == sorted(ids, reverse=True)  # newest first, and they sort as strings
    assert [h["next"] for h in history] == [[], ["agent"], [], ["agent"]]
    assert [h["parent_checkpoint"]["checkpoint_id"] for h in history[:-1]] == ids[1:]
    assert [len(h["values"]["messages"]) for h in history] == [4, 3, 2, 1]
    older = sdk.threads.get_history(thread["thread_id"], before=ids[1], limit=1)
    assert [h["checkpoint"]["checkpoint_id"] for h in older] == [ids[2]]


def test_a_run_from_an_older_checkpoint_forks_a_branch(
    sdk: SyncLangGraphClient, api: httpx.Client, ollama: FakeOllama
) -> None:
    thread = sdk.threads.create()
    thread_id = thread["thread_id"]
    sdk.runs.wait(thread_id, "agent", input=_say("one"))
    head, after_one = [h["checkpoint"] for h in sdk.threads.get_history(thread_id)][:2]
    continued = sdk.runs.wait(
        thread_id, "agent", input=_say("two"), checkpoint_id=head["checkpoint_id"]
    )
    assert continued["messages"][-1]["content"] == "You said: two"

    # agent-chat-ui's edit: a new human message from the state before the edited one.
    before_two = [h["checkpoint"] for h in sdk.threads.get_history(thread_id)][2]
    edited = sdk.runs.wait(thread_id, "agent", input=_say("deux"), checkpoint=before_two)
    assert [m["content"] for m in edited["messages"]] == [
        "one",
        "You said: one",
        "deux",
        "You said: deux",
    ]
    # agent-chat-ui's regenerate: no input, from the state after the human message.
    ollama.queue(Reply(tokens=["Un."]))
    again = sdk.runs.wait(thread_id, "agent", input=None, checkpoint=after_one)
    assert [m["content"] for m in again["messages"]] == ["one", "Un."]
    assert [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]] == ["one"]

    shown = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [m["content"] for m in shown] == ["one", "Un."]
    assert shown[1]["sibling_count"] == 2  # the first reply is kept beside the new one
    status, error = _status(
        lambda: sdk.runs.wait(thread_id, "agent", input=_say("x"), checkpoint_id="999")
    )
    assert (status, error["code"]) == (404, "checkpoint_not_found")


def test_the_first_message_is_edited_from_the_checkpoint_before_it(
    sdk: SyncLangGraphClient, api: httpx.Client, ollama: FakeOllama
) -> None:
    thread_id = sdk.threads.create()["thread_id"]
    for text in ("one", "two"):
        sdk.runs.wait(thread_id, "agent", input=_say(text))
    # agent-chat-ui edits a message from its first state's parent checkpoint: for the first
    # message that is the empty thread before it, which must exist to fork from.
    root = sdk.threads.get_history(thread_id)[-1]["parent_checkpoint"]
    assert root is not None

    edited = sdk.runs.wait(thread_id, "agent", input=_say("uno"), checkpoint=root)

    assert [m["content"] for m in edited["messages"]] == ["uno", "You said: uno"]
    assert [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]] == ["uno"]
    shown = api.get(f"/threads/{thread_id}/messages").json()["messages"]
    assert [m["content"] for m in shown] == ["uno", "You said: uno"]
    assert shown[0]["sibling_count"] == 2  # "one" and its answers stay on their branch
    assert sdk.threads.get_history(thread_id)[-1]["parent_checkpoint"] == root
    # Answering again needs a message to answer: there is none before the first.
    status, error = _status(lambda: sdk.runs.wait(thread_id, "agent", input=None, checkpoint=root))
    assert (status, error["code"]) == (422, "validation_error")


def test_thread_create_if_exists(sdk: SyncLangGraphClient) -> None:
    made = sdk.threads.create(thread_id="lg-fixed", metadata={"a": 1})
    again = sdk.threads.create(thread_id="lg-fixed", if_exists="do_nothing")
    assert again["thread_id"] == made["thread_id"] and again["metadata"] == {"a": 1}
    with pytest.raises(ConflictError):
        sdk.threads.create(thread_id="lg-fixed", if_exists="raise")
    assert _status(lambda: sdk.threads.create(thread_id="lg-fixed"))[0] == 409


def test_stateless_runs_leave_no_thread(sdk: SyncLangGraphClient) -> None:
    values = sdk.runs.wait(None, "agent", input=_say("once"))
    streamed = list(sdk.runs.stream(None, "agent", input=_say("twice"), stream_mode="values"))

    assert values["messages"][-1]["content"] == "You said: once"
    assert streamed[-2].data["messages"][-1]["content"] == "You said: twice"
    _wait_for(lambda: sdk.threads.search() == [], "the throwaway threads to be deleted")


def test_native_and_langgraph_threads_are_one(sdk: SyncLangGraphClient, api: httpx.Client) -> None:
    native = api.post("/chat", json={"message": "native hello", "thread_id": "both"}).json()
    values = sdk.runs.wait("both", "agent", input=_say("sdk hello"))
    messages = api.get("/threads/both/messages").json()["messages"]

    assert [m["content"] for m in messages] == [m["content"] for m in values["messages"]]
    assert native["run_id"] in [r["run_id"] for r in sdk.runs.list("both")]
    sdk.threads.delete("both")
    assert api.get("/threads/both").status_code == 404


def test_another_owners_thread_is_not_found(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(
        auth="on", api_keys="alice:alice-secret-0123456789,bob:bob-secret-0123456789"
    )
    alice = get_sync_client(url=server.url, api_key="alice-secret-0123456789")
    bob = get_sync_client(url=server.url, api_key="bob-secret-0123456789")
    thread = alice.threads.create()
    alice.runs.wait(thread["thread_id"], "agent", input=_say("mine"))
    run_id = alice.runs.list(thread["thread_id"])[0]["run_id"]
    tid = thread["thread_id"]

    calls: list[Callable[[], Any]] = [
        lambda: bob.threads.get(tid),
        lambda: bob.threads.get_state(tid),
        lambda: bob.threads.get_history(tid),
        lambda: bob.threads.get_state(tid, checkpoint_id="00000000000000000001"),
        lambda: bob.threads.get_state(tid, checkpoint={"checkpoint_id": "00000000000000000001"}),
        lambda: bob.http.get(f"/threads/{tid}/history"),
        lambda: bob.runs.list(tid),
        lambda: bob.runs.get(tid, run_id),
        lambda: bob.runs.join(tid, run_id),
        lambda: list(bob.runs.join_stream(tid, run_id)),
        lambda: bob.runs.wait(tid, "agent", input=_say("theirs")),
        lambda: bob.runs.create(tid, "agent", input=_say("theirs")),
        lambda: list(bob.runs.stream(tid, "agent", input=_say("theirs"))),
        lambda: bob.runs.wait(tid, "agent", command={"resume": {"decisions": []}}),
        lambda: bob.runs.cancel(tid, run_id),
        lambda: bob.threads.delete(tid),
    ]
    for call in calls:
        assert _status(call)[0] == 404
    assert bob.threads.search() == [] and len(alice.threads.search()) == 1
    assert alice.assistants.get("agent")["graph_id"] == "agent"
    assert _status(get_sync_client(url=server.url, api_key=None).threads.search)[0] == 401


def _run_body(**extra: Any) -> dict[str, Any]:
    return {"assistant_id": "agent", "input": _say("hi"), **extra}


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/threads/bad/runs/wait", _run_body(assistant_id="nope"), 404, "assistant_not_found"),
        ("/threads/bad/runs/stream", _run_body(stream_mode=7), 422, "validation_error"),
        ("/threads/bad/runs/stream", _run_body(stream_mode=[{"a": 1}]), 422, "validation_error"),
        ("/threads/bad/runs", {"input": _say("hi")}, 422, "validation_error"),
        ("/threads/bad/runs/wait", _run_body(input={"messages": []}), 422, "validation_error"),
        ("/threads/bad/runs/wait", _run_body(command={"resume": 1}), 422, "validation_error"),
        ("/threads/bad/runs/wait", _run_body(checkpoint_id="x" * 30), 404, "checkpoint_not_found"),
        (
            "/threads/bad/runs/wait",
            _run_body(checkpoint_id="not-an-id"),
            404,
            "checkpoint_not_found",
        ),
        (
            "/threads/bad/runs/wait",
            _run_body(checkpoint_id="00000000000000000099"),
            404,
            "checkpoint_not_found",
        ),
        (
            "/runs/wait",
            _run_body(input={"messages": [{"role": "user", "content": "x" * 5000}]}),
            422,
            "validation_error",
        ),
        ("/threads/search", {"metadata": {"a": {"nested": 1}}}, 422, "validation_error"),
        ("/threads/search", {"limit": -1}, 422, "validation_error"),
        ("/threads/bad/history", {"before": "zzz"}, 404, "checkpoint_not_found"),
        ("/assistants/search", {"limit": "many"}, 422, "validation_error"),
        ("/threads/nowhere/runs/wait", _run_body(), 404, "thread_not_found"),
        # A missing thread's 404 comes before what is wrong with the body…
        ("/threads/nowhere/runs/stream", _run_body(stream_mode=7), 404, "thread_not_found"),
        ("/threads/nowhere/runs", _run_body(assistant_id="nope"), 404, "thread_not_found"),
        ("/threads/nowhere/runs/wait", _run_body(checkpoint_id="x"), 404, "thread_not_found"),
        # …unless the body creates it.
        (
            "/threads/nowhere/runs/wait",
            _run_body(if_not_exists="create", stream_mode=7),
            422,
            "validation_error",
        ),
    ],
)
def test_bad_input_gets_the_error_object(
    start_server: Callable[..., LiveServer], path: str, body: Any, status: int, code: str
) -> None:
    server = start_server(max_message_chars=1000)
    with server.client() as api:
        api.post("/threads", json={"thread_id": "bad"})
        response = api.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["request_id"] == response.headers["x-request-id"]


def test_bodies_are_read_as_json_whatever_their_content_type(api: httpx.Client) -> None:
    api.post("/threads", json={"thread_id": "plain"})
    body = b'{"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "p"}]}}'
    headers = {"Content-Type": "text/plain;charset=UTF-8", "X-Api-Key": "remove-me"}

    waited = api.post("/threads/plain/runs/wait", content=body, headers=headers)
    broken = api.post("/threads/plain/runs/wait", content=b"{not json", headers=headers)
    # agent-chat-ui's proxy creates and updates threads so too.
    created = api.post("/threads", content=b'{"metadata": {"a": 1}}', headers=headers)
    patched = api.patch(
        f"/threads/{created.json()['thread_id']}", content=b'{"title": "t"}', headers=headers
    )

    assert (created.status_code, created.json()["metadata"]) == (201, {"a": 1})
    assert (patched.status_code, patched.json()["title"]) == (200, "t")
    assert waited.status_code == 200 and waited.json()["messages"][-1]["content"] == "You said: p"
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "validation_error"


def test_tool_calls_and_results_are_langchain_messages(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    call = {"id": "c1", "function": {"name": "calculator", "arguments": {"expression": "2 + 3"}}}
    ollama.queue(Reply(tokens=[], tool_calls=[call]), Reply(tokens=["It is ", "5."]))
    thread = sdk.threads.create()
    parts = list(
        sdk.runs.stream(
            thread["thread_id"],
            "agent",
            input=_say("2+3?"),
            stream_mode=["messages-tuple", "values"],
            config={"configurable": {"tools": ["calculator"]}},
        )
    )

    ai_call, result, answer = [p.data for p in parts if p.event == "values"][-1]["messages"][1:]
    assert ai_call["type"] == "ai"
    assert ai_call["tool_calls"] == [
        {"name": "calculator", "args": {"expression": "2 + 3"}, "id": "c1", "type": "tool_call"}
    ]
    assert result["type"] == "tool" and result["tool_call_id"] == "c1"
    assert result["content"] == "5" and result["status"] == "success"
    assert answer["content"] == "It is 5."
    streamed = [p.data[0] for p in parts if p.event == "messages"]
    assert [m["id"] for m in streamed] == [ai_call["id"], result["id"], answer["id"], answer["id"]]


def test_legacy_messages_events_and_unknown_modes(sdk: SyncLangGraphClient) -> None:
    thread = sdk.threads.create()
    modes = ["messages", "events", "custom", "debug", "no-such-mode"]
    parts = list(sdk.runs.stream(thread["thread_id"], "agent", input=_say("ok"), stream_mode=modes))

    names = [p.event for p in parts]
    assert names[:2] == ["metadata", "messages/metadata"]
    partials = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    assert partials == ["You ", "You said: ", "You said: ok"]
    assert [p.data[0]["content"] for p in parts if p.event == "messages/complete"] == [
        "You said: ok"
    ]
    assert {p.data["event"] for p in parts if p.event == "events"} == {"on_chat_model_stream"}
    assert names[-1] == "end"


def test_an_idempotency_key_starts_one_run(sdk: SyncLangGraphClient) -> None:
    thread = sdk.threads.create()
    headers = {"Idempotency-Key": "lg-once"}
    first = sdk.runs.create(thread["thread_id"], "agent", input=_say("1"), headers=headers)
    again = sdk.runs.create(thread["thread_id"], "agent", input=_say("1"), headers=headers)

    assert again["run_id"] == first["run_id"]
    sdk.runs.join(thread["thread_id"], first["run_id"])
    assert len(sdk.runs.list(thread["thread_id"])) == 1


def test_a_thread_search_filters_on_scalar_metadata_only(
    sdk: SyncLangGraphClient, server: LiveServer
) -> None:
    flagged = sdk.threads.create(metadata={"flag": True, "ratio": 0.5})
    with server.client() as api:
        schemas = api.get("/openapi.json").json()["components"]["schemas"]
    values = schemas["ThreadSearch"]["properties"]["metadata"]["anyOf"][0]["additionalProperties"]

    with pytest.raises(httpx.HTTPStatusError) as nested:
        sdk.threads.search(metadata={"flag": {"nested": True}})
    found = sdk.threads.search(metadata={"flag": True, "ratio": 0.5})

    assert nested.value.response.status_code == 422
    assert nested.value.response.json()["error"]["code"] == "validation_error"
    assert [t["thread_id"] for t in found] == [flagged["thread_id"]]
    # The document says so, so that a fuzzer's schema-valid filter is one the server takes.
    assert {kind["type"] for kind in values["anyOf"]} == {"string", "boolean", "integer", "number"}
