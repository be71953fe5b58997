"""LangGraph history over a thread with branches, read with the official `langgraph-sdk` client.

agent-chat-ui (the SDK's `useStream`) builds its branch switcher ("1 / 2") from the forks it
finds in `/history`: states whose `parent_checkpoint` is the same checkpoint. At a fork it opens
on the child listed first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError

from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer


@pytest.fixture
def sdk(server: LiveServer) -> Iterator[SyncLangGraphClient]:
    client = get_sync_client(url=server.url, api_key=None)
    yield client
    client.http.client.close()


def _say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _cp(seq: int) -> str:
    return str(seq).zfill(20)


def _ids(states: list[Any]) -> list[str]:
    return [state["checkpoint"]["checkpoint_id"] for state in states]


def _texts(state: Any) -> list[str]:
    return [message["content"] for message in state["values"]["messages"]]


def _children(history: list[Any]) -> dict[str, list[str]]:
    """Each parent checkpoint's children in the order listed, as `getBranchSequence` reads them."""
    children: dict[str, list[str]] = {}
    for state in history:
        parent = (state["parent_checkpoint"] or {}).get("checkpoint_id") or "$"
        children.setdefault(parent, []).append(state["checkpoint"]["checkpoint_id"])
    return children


@pytest.fixture
def forked(sdk: SyncLangGraphClient, ollama: FakeOllama) -> str:
    """A thread whose first question was answered twice (agent-chat-ui's regenerate), then
    continued on the second answer: messages 1 "one", 2 "You said: one" (the old branch's
    leaf), 3 "Un.", 4 "two", 5 "You said: two" (the current leaf)."""
    thread_id: str = sdk.threads.create()["thread_id"]
    sdk.runs.wait(thread_id, "agent", input=_say("one"))
    ollama.queue(Reply(tokens=["Un."]))
    sdk.runs.wait(thread_id, "agent", input=None, checkpoint={"checkpoint_id": _cp(1)})
    sdk.runs.wait(thread_id, "agent", input=_say("two"))
    return thread_id


def test_history_lists_every_branch_each_state_with_its_path_and_parent(
    sdk: SyncLangGraphClient, forked: str
) -> None:
    history = sdk.threads.get_history(forked)

    # Newest first; every state before the one it follows (where the SDK finds a message's
    # first state), the current branch's head first: the thread's state.
    assert _ids(history) == [_cp(5), _cp(4), _cp(3), _cp(2), _cp(1)]
    assert history[0] == sdk.threads.get_state(forked)
    assert _texts(history[0]) == ["one", "Un.", "two", "You said: two"]
    assert _texts(history[3]) == ["one", "You said: one"]
    assert [state["next"] for state in history] == [[], ["agent"], [], [], ["agent"]]
    # The question's state has two children: a fork, the current branch's child listed first.
    assert _children(history) == {
        _cp(4): [_cp(5)],
        _cp(3): [_cp(4)],
        _cp(1): [_cp(3), _cp(2)],
        _cp(0): [_cp(1)],
    }


def test_history_pages_and_filters_across_branches(
    sdk: SyncLangGraphClient, forked: str, api: httpx.Client
) -> None:
    assert _ids(sdk.threads.get_history(forked, limit=2)) == [_cp(5), _cp(4)]
    # `before` is a checkpoint id: the states below it, on every branch.
    assert _ids(sdk.threads.get_history(forked, before=_cp(3))) == [_cp(2), _cp(1)]
    assert _ids(sdk.threads.get_history(forked, before={"checkpoint_id": _cp(2)})) == [_cp(1)]
    only = sdk.threads.get_history(forked, checkpoint={"checkpoint_id": _cp(2)})
    assert _ids(only) == [_cp(2)] and _texts(only[0]) == ["one", "You said: one"]
    # A message that ends no state (the question is followed by replies) is no checkpoint.
    assert sdk.threads.get_history(forked, checkpoint={"checkpoint_id": _cp(9)}) == []
    by_query = api.get(f"/threads/{forked}/history", params={"limit": 3, "before": _cp(5)})
    assert by_query.status_code == 200
    assert by_query.json() == sdk.threads.get_history(forked, limit=3, before=_cp(5))


def test_the_state_at_a_checkpoint_of_another_branch(sdk: SyncLangGraphClient, forked: str) -> None:
    old = sdk.threads.get_state(forked, checkpoint_id=_cp(2))
    assert _texts(old) == ["one", "You said: one"]
    assert old["parent_checkpoint"]["checkpoint_id"] == _cp(1) and old["next"] == []
    assert sdk.threads.get_state(forked, checkpoint={"checkpoint_id": _cp(2)}) == old
    assert old == sdk.threads.get_history(forked)[3]
    # The thread's own state stays the current branch's.
    assert _texts(sdk.threads.get_state(forked)) == ["one", "Un.", "two", "You said: two"]
    root = sdk.threads.get_state(forked, checkpoint_id=_cp(0))
    assert root["values"]["messages"] == [] and root["parent_checkpoint"] is None
    for missing in (_cp(4) + "0", _cp(99)):
        with pytest.raises(NotFoundError):
            sdk.threads.get_state(forked, checkpoint_id=missing)


def test_after_a_switch_the_current_branch_leads_and_a_run_from_its_head_continues_it(
    sdk: SyncLangGraphClient, forked: str, api: httpx.Client, ollama: FakeOllama
) -> None:
    first_reply = sdk.threads.get_state(forked, checkpoint_id=_cp(2))["values"]["messages"][-1]
    api.put(f"/threads/{forked}/leaf", json={"message_id": first_reply["id"]}).raise_for_status()

    history = sdk.threads.get_history(forked)
    # The current branch's head first, and at the fork its side first (where the SDK opens).
    assert _ids(history) == [_cp(2), _cp(5), _cp(4), _cp(3), _cp(1)]
    assert history[0] == sdk.threads.get_state(forked)
    assert _children(history)[_cp(1)] == [_cp(2), _cp(3)]

    # What agent-chat-ui sends from a branch it shows: that branch's head as the checkpoint.
    sdk.runs.wait(forked, "agent", input=_say("three"), checkpoint=history[0]["checkpoint"])
    sent = [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]]
    assert sent == ["one", "You said: one", "three"]
    # …and from the other branch's head, which forks there (the thread was moved off it).
    sdk.runs.wait(forked, "agent", input=_say("four"), checkpoint={"checkpoint_id": _cp(5)})
    sent = [m["content"] for m in ollama.chat_requests()[-1]["messages"][1:]]
    assert sent == ["one", "Un.", "two", "You said: two", "four"]
    assert _texts(sdk.threads.get_history(forked)[0]) == [*sent, "You said: four"]


def test_a_tool_turn_is_one_state_beside_the_reply_regenerated_for_its_question(
    sdk: SyncLangGraphClient, ollama: FakeOllama
) -> None:
    call = {"id": "c1", "function": {"name": "calculator", "arguments": {"expression": "2 + 3"}}}
    ollama.queue(Reply(tokens=[], tool_calls=[call]), Reply(tokens=["It is 5."]), Reply(["Five."]))
    thread_id = sdk.threads.create()["thread_id"]
    tools = {"configurable": {"tools": ["calculator"]}}
    sdk.runs.wait(thread_id, "agent", input=_say("2+3?"), config=tools)
    sdk.runs.wait(thread_id, "agent", input=None, checkpoint={"checkpoint_id": _cp(1)})

    history = sdk.threads.get_history(thread_id)

    # The call and its result (messages 2 and 3) end no state: the turn's state ends at 4.
    assert _ids(history) == [_cp(5), _cp(4), _cp(1)]
    assert _children(history) == {_cp(1): [_cp(5), _cp(4)], _cp(0): [_cp(1)]}
    tool_turn = [message["type"] for message in history[1]["values"]["messages"]]
    assert tool_turn == ["human", "ai", "tool", "ai"]
    assert _texts(history[0]) == ["2+3?", "Five."]
