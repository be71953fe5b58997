"""Branches: regenerate and edit add siblings, the leaf picks the branch the model sees.

Storage stays append-only: these operations only INSERT messages and move the thread's leaf.
"""

from __future__ import annotations

from typing import Any

import httpx

from support.db import message_rewrites_forbidden, query
from support.fake_ollama import FakeOllama, Reply
from support.sse import frames

_SIBLING_FIELDS = ("siblings", "sibling_index", "sibling_count")


def _branch(api: httpx.Client, thread_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/threads/{thread_id}/messages", params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages]


def _sent(ollama: FakeOllama) -> list[tuple[str, str]]:
    """What the last model request carried, system prompt left out."""
    return [(m["role"], m["content"]) for m in ollama.chat_requests()[-1]["messages"][1:]]


def _without_siblings(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in _SIBLING_FIELDS} for m in messages]


def _two_turns(api: httpx.Client, thread_id: str) -> list[dict[str, Any]]:
    for text in ("hello", "more"):
        assert api.post("/chat", json={"message": text, "thread_id": thread_id}).is_success
    return _branch(api, thread_id)


def test_regenerate_adds_a_sibling_reply_and_the_old_branch_reads_back(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    old = _two_turns(api, "r")
    assert [m["sibling_count"] for m in old] == [1, 1, 1, 1]
    first_request = ollama.chat_requests()[-1]["messages"]
    ollama.queue(Reply(tokens=["another ", "answer"]))
    with message_rewrites_forbidden(database_url):
        reply = api.post(f"/threads/r/messages/{old[3]['id']}/regenerate", json={})
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"] == "another answer"
    # The model was asked exactly what it was asked the first time.
    assert ollama.chat_requests()[-1]["messages"] == first_request

    new = _branch(api, "r")
    assert _texts(new) == ["hello", "You said: hello", "more", "another answer"]
    assert new[3]["parent_id"] == old[2]["id"] == old[3]["parent_id"]
    assert new[3]["siblings"] == [old[3]["id"], new[3]["id"]]
    assert (new[3]["sibling_index"], new[3]["sibling_count"]) == (1, 2)

    switched = api.put("/threads/r/leaf", json={"message_id": old[3]["id"]})
    assert switched.json() == {"thread_id": "r", "leaf_message_id": old[3]["id"]}
    back = _branch(api, "r")
    assert _without_siblings(back) == _without_siblings(old)
    assert (back[3]["sibling_index"], back[3]["sibling_count"]) == (0, 2)


def test_edit_adds_a_sibling_user_message_answered_on_a_new_branch(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    old = _two_turns(api, "e")
    before = query(database_url, "SELECT * FROM messages ORDER BY seq")
    with message_rewrites_forbidden(database_url):
        edited = api.post(f"/threads/e/messages/{old[2]['id']}/edit", json={"content": "changed"})
    assert edited.status_code == 200, edited.text
    assert _sent(ollama) == [
        ("user", "hello"),
        ("assistant", "You said: hello"),
        ("user", "changed"),
    ]
    new = _branch(api, "e")
    assert _texts(new) == ["hello", "You said: hello", "changed", "You said: changed"]
    assert new[2]["parent_id"] == old[1]["id"]
    assert new[2]["siblings"] == [old[2]["id"], new[2]["id"]]
    # Nothing was rewritten: the old rows are all still there, unchanged; two were added.
    after = query(database_url, "SELECT * FROM messages ORDER BY seq")
    assert after[: len(before)] == before and len(after) == len(before) + 2


def test_switching_the_leaf_changes_what_the_model_is_sent(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    old = _two_turns(api, "s")
    api.post(f"/threads/s/messages/{old[2]['id']}/edit", json={"content": "changed"})

    # Back to the first branch: the next turn continues it.
    api.put("/threads/s/leaf", json={"message_id": old[2]["id"]})
    assert api.post("/chat", json={"message": "next", "thread_id": "s"}).is_success
    assert _sent(ollama) == [
        ("user", "hello"),
        ("assistant", "You said: hello"),
        ("user", "more"),
        ("assistant", "You said: more"),
        ("user", "next"),
    ]
    # The edited branch again, by its user message: down to its newest reply.
    edited = next(m for m in _branch(api, "s") if m["content"] == "more")["siblings"][1]
    leaf = api.put("/threads/s/leaf", json={"message_id": edited}).json()["leaf_message_id"]
    assert leaf != edited
    assert api.post("/chat", json={"message": "then", "thread_id": "s"}).is_success
    assert _sent(ollama) == [
        ("user", "hello"),
        ("assistant", "You said: hello"),
        ("user", "changed"),
        ("assistant", "You said: changed"),
        ("user", "then"),
    ]


def test_editing_the_first_message_starts_a_second_root(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    old = _two_turns(api, "root")
    api.post(f"/threads/root/messages/{old[0]['id']}/edit", json={"content": "hi"})
    assert _sent(ollama) == [("user", "hi")]
    new = _branch(api, "root")
    assert _texts(new) == ["hi", "You said: hi"]
    assert new[0]["parent_id"] is None
    assert new[0]["siblings"] == [old[0]["id"], new[0]["id"]]


def test_regenerate_streams_like_stream(api: httpx.Client, ollama: FakeOllama) -> None:
    old = _two_turns(api, "st")
    ollama.queue(Reply(tokens=["streamed"]))
    path = f"/threads/st/messages/{old[3]['id']}/regenerate"
    with api.stream("POST", path, params={"stream": "true"}, json={}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        received = list(frames(response.iter_lines()))
    assert received[-1].event == "end"
    assert _texts(_branch(api, "st"))[-1] == "streamed"


def test_branch_operations_on_a_busy_thread_are_refused(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    old = _two_turns(api, "busy")
    ollama.queue(Reply(tokens=["slow", "er"], stall_after=1))
    with api.stream("POST", "/stream", json=_stream_body("busy")) as response:
        location = response.headers["content-location"]
        refused = [
            api.post(f"/threads/busy/messages/{old[3]['id']}/regenerate", json={}),
            api.post(f"/threads/busy/messages/{old[2]['id']}/edit", json={"content": "x"}),
            api.put("/threads/busy/leaf", json={"message_id": old[1]["id"]}),
        ]
        api.post(f"{location}/cancel", params={"wait": "true"})
    assert [r.status_code for r in refused] == [409, 409, 409]
    assert {r.json()["error"]["code"] for r in refused} == {"thread_busy"}


def _stream_body(thread_id: str) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": "go"}]},
        "config": {"configurable": {"thread_id": thread_id}},
    }


def test_wrong_messages_are_clear_errors(api: httpx.Client) -> None:
    old = _two_turns(api, "w")
    api.post("/chat", json={"message": "elsewhere", "thread_id": "other"})
    elsewhere = _branch(api, "other")[0]["id"]
    cases = [
        (api.post(f"/threads/w/messages/{old[1]['id']}/edit", json={"content": "x"}), 400),
        (api.post("/threads/w/messages/nope/regenerate", json={}), 404),
        (api.post(f"/threads/w/messages/{elsewhere}/regenerate", json={}), 404),
        (api.put("/threads/w/leaf", json={"message_id": elsewhere}), 404),
        (api.put("/threads/missing/leaf", json={"message_id": elsewhere}), 404),
    ]
    assert [response.status_code for response, _ in cases] == [code for _, code in cases]
    assert [response.json()["error"]["code"] for response, _ in cases] == [
        "not_editable",
        "message_not_found",
        "message_not_found",
        "message_not_found",
        "thread_not_found",
    ]
