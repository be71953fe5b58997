"""POST /stream: SSE headers, event order, ids, heartbeats, errors, and disconnects."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.sse import Frame, frames


def _body(text: str, thread_id: str | None = None, **extra: Any) -> dict[str, Any]:
    run_input: dict[str, Any] = {"messages": [{"role": "user", "content": text}]}
    if thread_id:
        run_input["thread_id"] = thread_id
    return {"input": run_input, **extra}


def _collect(api: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[Frame]]:
    with api.stream("POST", "/stream", json=body) as response:
        return response, list(frames(response.iter_lines()))


def test_stream_headers_and_event_order(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["Hel", "lo", " world"]))

    response, received = _collect(api, _body("hi", "s1"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-request-id"]
    events = [f for f in received if f.event]
    names = [f.event for f in events]
    assert names == ["metadata", "messages", "messages", "messages", "updates", "end"]
    assert events[0].retry is not None and events[0].retry > 0
    ids = [int(f.id) for f in events if f.id is not None]
    assert len(ids) == len(events) and ids == sorted(ids) and len(set(ids)) == len(ids)
    run_id = events[0].json()["run_id"]
    assert response.headers["content-location"] == f"/threads/s1/runs/{run_id}"
    tokens = [f.json()[0]["content"] for f in events if f.event == "messages"]
    assert tokens == ["Hel", "lo", " world"]
    chunk_ids = {f.json()[0]["id"] for f in events if f.event == "messages"}
    stored = events[4].json()["agent"]["messages"][0]
    assert chunk_ids == {stored["id"]} and stored["content"] == "Hello world"
    assert events[-1].json()["status"] == "success"


def test_values_mode_sends_the_run_messages(api: httpx.Client) -> None:
    _, received = _collect(api, _body("ping", stream_mode="values"))

    names = [f.event for f in received if f.event]
    assert names == ["metadata", "values", "end"]
    values = received[[f.event for f in received].index("values")].json()
    assert [(m["type"], m["content"]) for m in values["messages"]] == [
        ("human", "ping"),
        ("ai", "You said: ping"),
    ]


def test_unknown_stream_modes_are_ignored(api: httpx.Client) -> None:
    response, received = _collect(api, _body("x", stream_mode=["debug", "messages-tuple"]))

    assert response.status_code == 200
    assert {f.event for f in received if f.event} == {"metadata", "messages", "end"}


def test_heartbeats_flow_while_the_model_is_slow(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["late"], first_token_delay=1.2))

    _, received = _collect(api, _body("wait"))

    first_token = next(i for i, f in enumerate(received) if f.event == "messages")
    heartbeats = [f for f in received[:first_token] if f.comments == ["heartbeat"]]
    assert len(heartbeats) >= 2


def test_a_backend_failure_ends_the_stream_with_an_error_event(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    ollama.queue(Reply(tokens=["a", "b"], error_after=1))

    response, received = _collect(api, _body("x"))

    assert response.status_code == 200
    events = [f for f in received if f.event]
    assert events[-1].event == "error"
    assert events[-1].json()["error"]["code"] == "llm_error"
    assert "end" not in [f.event for f in events]


def test_pre_stream_failures_are_plain_json_errors(api: httpx.Client) -> None:
    response = api.post("/stream", json={"input": {"messages": []}})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "validation_error"


def test_a_client_that_disconnects_does_not_lose_the_answer(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    tokens = [f"t{i} " for i in range(12)]
    ollama.queue(Reply(tokens=tokens, token_delay=0.05))

    with api.stream("POST", "/stream", json=_body("long", "dc")) as response:
        for frame in frames(response.iter_lines()):
            if frame.event == "messages":
                break  # hang up after the first token

    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = query(database_url, "SELECT status FROM runs WHERE thread_id = 'dc'")
        if rows and rows[0]["status"] != "running":
            break
        time.sleep(0.05)
    assert rows[0]["status"] == "success"
    stored = query(
        database_url,
        "SELECT content, status FROM messages WHERE thread_id = 'dc' AND role = 'assistant'",
    )
    assert stored == [{"content": "".join(tokens), "status": "complete"}]


@pytest.mark.parametrize("mode", ["updates", ["messages", "updates", "values"]])
def test_every_stream_ends_with_end(api: httpx.Client, mode: Any) -> None:
    _, received = _collect(api, _body("x", stream_mode=mode))

    events = [f.event for f in received if f.event]
    assert events[0] == "metadata" and events[-1] == "end"
