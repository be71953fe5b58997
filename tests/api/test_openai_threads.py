"""Where OpenAI API turns are stored: stateless by default, bound to a thread by header, never
history stored or sent twice (SQLite and PostgreSQL; rows read straight from the database)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai import OpenAI

from api.openai_support import MODEL, assistant, calculator_call, raw_stream, sdk, user
from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

SYSTEM = {"role": "system", "content": "Be brief."}


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(rate_limit="")


def _ask(
    client: OpenAI, messages: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> tuple[str, str]:
    """(the reply, the thread graphchat stored the turn in)."""
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=messages,
        extra_headers=headers,
    )
    return raw.parse().choices[0].message.content or "", raw.headers["x-graphchat-thread-id"]


def _rows(database_url: str, thread_id: str) -> list[tuple[str, str]]:
    rows = query(
        database_url,
        "SELECT role, content FROM messages WHERE thread_id = :thread ORDER BY seq",
        thread=thread_id,
    )
    return [(row["role"], row["content"]) for row in rows]


def test_a_bound_thread_stores_each_message_once_as_the_list_grows(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["A1"]), Reply(tokens=["A2"]))
    client = sdk(server)
    bind = {"X-Graphchat-Thread-Id": "chat-one"}
    first = [SYSTEM, user("u1")]

    reply1, thread1 = _ask(client, first, bind)
    second = [*first, assistant(reply1), user("u2")]
    _, thread2 = _ask(client, second, bind)

    assert (thread1, thread2) == ("chat-one", "chat-one")
    assert _rows(database_url, "chat-one") == [
        ("user", "u1"),
        ("assistant", "A1"),
        ("user", "u2"),
        ("assistant", "A2"),
    ]
    # The model saw the caller's conversation once, not the stored thread besides.
    assert ollama.chat_requests()[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "u2"},
    ]


def test_a_diverging_list_goes_to_a_new_thread_and_leaves_the_bound_one_intact(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["A1"]), Reply(tokens=["B2"]), Reply(tokens=["A2"]))
    client = sdk(server)
    bind = {"X-Graphchat-Thread-Id": "chat-two"}
    _ask(client, [user("u1")], bind)

    edited = [user("u1"), assistant("an edited answer"), user("u2b")]
    reply, forked = _ask(client, edited, bind)
    continued = [user("u1"), assistant("A1"), user("u2")]
    _, same = _ask(client, continued, bind)

    assert reply == "B2"
    assert forked != "chat-two" and same == "chat-two"
    assert _rows(database_url, forked) == [
        ("user", "u1"),
        ("assistant", "an edited answer"),
        ("user", "u2b"),
        ("assistant", "B2"),
    ]
    assert _rows(database_url, "chat-two") == [
        ("user", "u1"),
        ("assistant", "A1"),
        ("user", "u2"),
        ("assistant", "A2"),
    ]


def test_a_regenerated_answer_does_not_extend_the_thread(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    client = sdk(server)
    bind = {"X-Graphchat-Thread-Id": "chat-regen"}
    _ask(client, [user("u1")], bind)

    _, thread = _ask(client, [user("u1")], bind)  # the same list again: a regenerate

    assert thread != "chat-regen"
    assert _rows(database_url, "chat-regen") == [("user", "u1"), ("assistant", "You said: u1")]


def test_graphchats_own_tool_rounds_do_not_break_the_prefix(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(calculator_call("2+2"), Reply(tokens=["It is 4."]))
    client = sdk(server)
    bind = {"X-Graphchat-Thread-Id": "chat-tools"}
    reply, _ = _ask(client, [user("2+2?")], bind)

    _, thread = _ask(client, [user("2+2?"), assistant(reply), user("thanks")], bind)

    assert thread == "chat-tools"
    roles = [role for role, _ in _rows(database_url, "chat-tools")]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant"]


def test_a_client_tool_round_trip_is_stored_once_in_the_bound_thread(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    call = {"id": "call_l1", "function": {"name": "lookup", "arguments": {"q": "x"}}}
    ollama.queue(Reply(tokens=[], tool_calls=[call]), Reply(tokens=["Found it."]))
    client = sdk(server)
    bind = {"X-Graphchat-Thread-Id": "chat-client-tools"}
    first = client.chat.completions.create(
        model=MODEL,
        messages=[user("find x")],
        tools=[tool],
        extra_headers=bind,
    )
    message = first.choices[0].message.model_dump(exclude_none=True)
    result = {"role": "tool", "tool_call_id": "call_l1", "content": "x is here"}

    client.chat.completions.create(
        model=MODEL,
        messages=[user("find x"), message, result],
        tools=[tool],
        extra_headers=bind,
    )

    rows = _rows(database_url, "chat-client-tools")
    assert rows == [
        ("user", "find x"),
        ("assistant", ""),
        ("tool", "x is here"),
        ("assistant", "Found it."),
    ]


def test_a_conversation_brought_with_a_tool_round_is_extended_on_the_next_turn(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    # Its first turn stores the tool round as the caller's input; the next turn must find the
    # stored calls equal to the ones sent again, or the conversation moves to a new thread.
    ollama.queue(Reply(tokens=["x is here."]), Reply(tokens=["y too."]))
    client = sdk(server)
    bind = {"X-Graphchat-Thread-Id": "chat-brought-tools"}
    function = {"name": "lookup", "arguments": '{"q": "x", "limit": 2}'}
    call = {"id": "call_b1", "type": "function", "function": function}
    first = [
        user("find x"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_b1", "content": "x: row 7"},
    ]
    reply, _ = _ask(client, first, bind)

    _, thread = _ask(client, [*first, assistant(reply), user("and y?")], bind)

    assert thread == "chat-brought-tools"
    assert _rows(database_url, "chat-brought-tools") == [
        ("user", "find x"),
        ("assistant", ""),
        ("tool", "x: row 7"),
        ("assistant", "x is here."),
        ("user", "and y?"),
        ("assistant", "y too."),
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-OpenWebUI-Chat-Id": "owui-1"}, "owui-1"),
        ({"X-Conversation-Id": "libre-1"}, "libre-1"),
        ({"X-Graphchat-Thread-Id": "ours", "X-OpenWebUI-Chat-Id": "owui-2"}, "ours"),
        ({"X-OpenWebUI-Chat-Id": "owui-3", "X-Conversation-Id": "libre-3"}, "owui-3"),
        ({"X-Conversation-Id": "{{not an id}}"}, None),
    ],
)
def test_binding_headers_apply_in_order_of_precedence(
    server: LiveServer, headers: dict[str, str], expected: str | None
) -> None:
    _, thread = _ask(sdk(server), [user("Hi")], headers)

    if expected is None:
        assert thread not in headers.values()
    else:
        assert thread == expected


def test_unbound_calls_store_only_their_latest_turn_and_never_bind_on_user(
    server: LiveServer, database_url: str
) -> None:
    client = sdk(server)
    conversation = [SYSTEM, user("u1"), assistant("a1"), user("u2")]

    raw = [
        client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=conversation,
            user="same-user",
        )
        for _ in range(2)
    ]

    threads = [response.headers["x-graphchat-thread-id"] for response in raw]
    assert threads[0] != threads[1]
    assert _rows(database_url, threads[0]) == [("user", "u2"), ("assistant", "You said: u2")]


def test_another_owners_thread_cannot_be_bound(
    start_server: Callable[..., LiveServer], database_url: str
) -> None:
    alice, bob = "a" * 32, "b" * 32
    server = start_server(auth="on", api_keys=f"alice:{alice},bob:{bob}", rate_limit="")
    bind = {"X-Graphchat-Thread-Id": "alices"}
    _ask(sdk(server, api_key=alice), [user("secret plan")], bind)

    with pytest.raises(openai.NotFoundError) as refused:
        _ask(sdk(server, api_key=bob), [user("secret plan"), assistant("x"), user("more")], bind)

    assert refused.value.code == "thread_not_found"
    # Nor is it compared with what bob sends: a list that differs from it is refused too, not
    # stored as a diverged conversation of bob's.
    with pytest.raises(openai.NotFoundError) as diverged:
        _ask(sdk(server, api_key=bob), [user("another plan")], bind)
    assert diverged.value.code == "thread_not_found"
    assert _rows(database_url, "alices") == [
        ("user", "secret plan"),
        ("assistant", "You said: secret plan"),
    ]


def test_a_client_that_stops_reading_a_stream_cancels_the_run(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["slow "] * 40, token_delay=0.1))
    with raw_stream(server, [user("Go on")]) as response:
        thread_id = response.headers["x-graphchat-thread-id"]
        next(line for line in response.iter_lines() if "slow" in line)
    # The connection is closed here, mid-reply.

    deadline = time.monotonic() + 15
    while True:
        [run] = query(database_url, "SELECT status FROM runs WHERE thread_id = :t", t=thread_id)
        if run["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert run["status"] == "cancelled"
    [reply] = query(
        database_url,
        "SELECT status, content FROM messages WHERE thread_id = :t AND role = 'assistant'",
        t=thread_id,
    )
    assert reply["status"] == "cancelled" and reply["content"].startswith("slow")


def test_an_open_webui_task_call_with_the_chat_id_leaves_the_chat_thread_alone(
    server: LiveServer, database_url: str
) -> None:
    client = sdk(server)
    bind = {"X-OpenWebUI-Chat-Id": "owui-chat"}
    _ask(client, [user("u1")], bind)
    task = (
        "### Task:\nGenerate a concise, 3-5 word title.\n<chat_history>\nUSER: u1\n</chat_history>"
    )

    _, thread = _ask(client, [user(task)], bind)

    assert thread != "owui-chat"
    assert _rows(database_url, "owui-chat") == [("user", "u1"), ("assistant", "You said: u1")]


def test_a_turn_on_a_bound_thread_that_is_answering_is_a_conflict(
    server: LiveServer, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=["slow "] * 20, token_delay=0.1))
    bind = {"X-Graphchat-Thread-Id": "busy-chat"}
    with raw_stream(server, [user("u1")], bind) as response:
        lines = response.iter_lines()  # kept: closing it would close the connection
        next(line for line in lines if "slow" in line)
        with pytest.raises(openai.ConflictError) as busy:
            _ask(sdk(server), [user("u1"), assistant("slow"), user("u2")], bind)

    assert busy.value.code == "thread_busy"
    assert busy.value.type == "conflict_error"
    assert _rows(database_url, "busy-chat")[0] == ("user", "u1")
    assert ("user", "u2") not in _rows(database_url, "busy-chat")
