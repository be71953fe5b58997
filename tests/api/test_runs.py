"""Durable runs: list and read runs, cancel, rejoin with Last-Event-ID, idempotency, multitask."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer
from support.sse import Frame, frames

TOKENS = [f"w{i} " for i in range(16)]


def _body(text: str, thread_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": text}], "thread_id": thread_id},
        **extra,
    }


def _events(lines: Iterator[str]) -> Iterator[Frame]:
    return (frame for frame in frames(lines) if frame.event)


def _read_until_tokens(
    client: httpx.Client, body: dict[str, Any], count: int, headers: dict[str, str] | None = None
) -> tuple[list[Frame], httpx.Headers]:
    """Open a stream, read `count` token events, then hang up."""
    received: list[Frame] = []
    with client.stream("POST", "/stream", json=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        for frame in _events(response.iter_lines()):
            received.append(frame)
            if sum(f.event == "messages" for f in received) == count:
                break
        return received, response.headers


def _rejoin(client: httpx.Client, location: str, last_id: str | None) -> list[Frame]:
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    with client.stream("GET", location, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(_events(response.iter_lines()))


def _tokens(received: list[Frame]) -> str:
    return "".join(f.json()[0]["content"] for f in received if f.event == "messages")


def _assistant_rows(database_url: str, thread_id: str) -> list[dict[str, Any]]:
    return query(
        database_url,
        "SELECT content, status FROM messages WHERE thread_id = :t AND role = 'assistant' "
        "ORDER BY seq",
        t=thread_id,
    )


def _wait_for_run(database_url: str, run_id: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(database_url, "SELECT status FROM runs WHERE id = :r", r=run_id)
        if rows and rows[0]["status"] != "running":
            return str(rows[0]["status"])
        time.sleep(0.05)
    raise AssertionError("run did not finish")


def test_runs_are_listed_and_read(api: httpx.Client, ollama: FakeOllama) -> None:
    first = api.post("/chat", json={"message": "a", "thread_id": "r"}).json()
    ollama.queue(Reply(status=404, error="model 'x' not found"))
    api.post("/chat", json={"message": "b", "thread_id": "r"})

    runs = api.get("/threads/r/runs").json()  # a list, as both LangGraph SDKs expect
    run = api.get(f"/threads/r/runs/{first['run_id']}").json()

    assert [r["status"] for r in runs] == ["error", "success"]
    assert runs[0]["error"]["code"] == "model_not_found"
    assert run["run_id"] == first["run_id"] and run["status"] == "success"
    assert run["usage"]["total_tokens"] == first["usage"]["total_tokens"]
    assert run["finished_at"] >= run["started_at"]
    assert api.get("/threads/r/runs/nope").json()["error"]["code"] == "run_not_found"
    api.post("/threads", json={"thread_id": "other"})
    assert api.get(f"/threads/other/runs/{first['run_id']}").status_code == 404


def test_cancel_mid_stream_keeps_what_was_streamed(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.15))
    received: list[Frame] = []
    with api.stream("POST", "/stream", json=_body("go", "c")) as response:
        location = response.headers["content-location"]
        for frame in _events(response.iter_lines()):
            received.append(frame)
            if sum(f.event == "messages" for f in received) == 3:
                cancelled = api.post(f"{location}/cancel", params={"wait": "true"})
        # the stream goes on to its `end`, which says the run was cancelled

    assert cancelled.status_code == 200
    # LangGraph's word for a stopped run, and graphchat's own.
    assert cancelled.json()["status"] == "interrupted"
    assert cancelled.json()["graphchat_status"] == "cancelled"
    assert received[-1].event == "end" and received[-1].json()["status"] == "cancelled"
    streamed = _tokens(received)
    assert _assistant_rows(database_url, "c") == [{"content": streamed, "status": "cancelled"}]
    assert 3 <= len(streamed.split()) < len(TOKENS)
    deadline = time.monotonic() + 5
    while ollama.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ollama.disconnects == 1  # the backend request was closed, generation stopped
    assert api.post(f"{location}/cancel").json()["graphchat_status"] == "cancelled"  # idempotent


def test_rejoin_with_last_event_id_misses_and_repeats_nothing(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.05))
    before, headers = _read_until_tokens(api, _body("go", "j"), 4)

    after = _rejoin(api, headers["location"], before[-1].id)

    # It rejoins in the stream's own vocabulary and modes (`POST /stream`'s default modes).
    rejoin_query = "?vocabulary=graphchat&stream_mode=messages&stream_mode=updates"
    assert headers["location"] == headers["content-location"] + "/stream" + rejoin_query
    ids = [int(f.id or -1) for f in before + after]
    assert ids == sorted(set(ids))
    assert after[-1].event == "end"
    joined = _tokens(before) + _tokens(after)
    assert joined == "".join(TOKENS)
    assert _assistant_rows(database_url, "j") == [{"content": joined, "status": "complete"}]
    replay = _rejoin(api, headers["location"], None)  # no id: the whole run again
    assert replay[0].event == "metadata" and _tokens(replay) == joined


def test_rejoin_after_a_server_restart_replays_from_the_database(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.03))
    first = start_server()
    with first.client() as client:
        before, headers = _read_until_tokens(client, _body("go", "restart"), 3)
    run_id = before[0].json()["run_id"]
    assert _wait_for_run(database_url, run_id) == "success"
    first.stop()

    second = start_server()
    with second.client() as client:
        after = _rejoin(client, headers["location"], before[-1].id)

    assert _tokens(before) + _tokens(after) == "".join(TOKENS)
    assert after[-1].event == "end" and after[-1].json()["status"] == "success"


def test_a_stream_started_on_one_server_is_rejoined_on_another(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.08))
    one, two = start_server(), start_server()
    with one.client() as client:
        before, headers = _read_until_tokens(client, _body("go", "multi"), 2)
    with two.client() as client:
        after = _rejoin(client, headers["location"], before[-1].id)  # follows it live

    joined = _tokens(before) + _tokens(after)
    assert joined == "".join(TOKENS)
    assert _assistant_rows(database_url, "multi") == [{"content": joined, "status": "complete"}]


def _streamed_tool_run(
    api: httpx.Client, ollama: FakeOllama, thread_id: str, token_delay: float = 0.0
) -> tuple[list[Frame], str]:
    """A run with a tool round (a call, its result, a reply of six tokens) streamed whole in
    every mode, where one message is several frames; its frames and its `Location`."""
    call = {"id": "c1", "function": {"name": "calculator", "arguments": {"expression": "2 + 3"}}}
    ollama.queue(
        Reply(tokens=[], tool_calls=[call]), Reply(tokens=TOKENS[:6], token_delay=token_delay)
    )
    body = _body(
        "2+3?",
        thread_id,
        stream_mode=["messages", "updates", "values"],
        config={"configurable": {"tools": ["calculator"]}},
    )
    with api.stream("POST", "/stream", json=body) as response:
        return list(_events(response.iter_lines())), response.headers["location"]


def test_a_stream_rejoined_at_its_location_goes_on_as_it_was_sent(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    whole, location = _streamed_tool_run(api, ollama, "vocabulary", token_delay=0.02)
    # Dropped right after the tool's result: the reply is still to come.
    cut = next(f for f in whole if f.event == "updates" and "tools" in f.json())
    assert cut.id is not None

    after = _rejoin(api, location, cut.id)

    expected = whole[whole.index(cut) + 1 :]
    assert [(f.event, f.id, f.json()) for f in after] == [
        (f.event, f.id, f.json()) for f in expected
    ]
    assert [f.event for f in after][-2:] == ["values", "end"]
    # `values` holds the whole list (rebuilt from the run's start), `end` graphchat's own fields.
    assert [m["role"] for m in after[-2].json()["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert after[-1].json()["finish_reason"] == "stop" and after[-1].json()["usage"]["total_tokens"]
    langgraph = _rejoin(api, location.split("?")[0], cut.id)  # the route's own default
    assert langgraph[-1].event == "end" and set(langgraph[-1].json()) == {"status"}


def test_a_rejoin_from_any_frame_sends_exactly_the_frames_after_it(
    api: httpx.Client, ollama: FakeOllama
) -> None:
    # A message is several frames of one event (`messages`, `updates`, `values`): a client cut
    # off between two of them must get the rest of that event, not skip to the next one.
    graphchat, location = _streamed_tool_run(api, ollama, "frames")
    langgraph = _rejoin(api, location.split("?")[0], None)  # the whole run in LangGraph's words

    # graphchat's rejoin rebuilds what its frames carry; LangGraph's, as LangGraph's own, does
    # not name the run in the metadata of a rejoin that starts after it: frames compared by id.
    for vocabulary, location_used, whole, shown in (
        ("graphchat", location, graphchat, lambda f: (f.event, f.id, f.data)),
        ("langgraph", location.split("?")[0], langgraph, lambda f: (f.event, f.id)),
    ):
        ids = [frame.id for frame in whole]
        assert None not in ids and len(set(ids)) == len(ids), vocabulary
        assert any("." in str(frame_id) for frame_id in ids), vocabulary  # an event of several
        for index, frame in enumerate(whole):
            after = _rejoin(api, location_used, frame.id)
            assert [shown(f) for f in after] == [shown(f) for f in whole[index + 1 :]], (
                vocabulary,
                frame.id,
            )


def test_a_bad_last_event_id_is_refused(api: httpx.Client) -> None:
    body = api.post("/chat", json={"message": "x", "thread_id": "b"}).json()
    response = api.get(f"/threads/b/runs/{body['run_id']}/stream", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422
    for bad in ("1.", ".1", "1.2.3", "-1.0"):
        refused = api.get(
            f"/threads/b/runs/{body['run_id']}/stream", headers={"Last-Event-ID": bad}
        )
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"] == "validation_error"
    unknown = api.get(f"/threads/b/runs/{body['run_id']}/stream", params={"vocabulary": "sse"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "validation_error"


def test_the_same_idempotency_key_creates_one_turn(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    headers = {"Idempotency-Key": "key-1"}
    body = {"message": "once", "thread_id": "idem"}
    ollama.queue(Reply(tokens=["only ", "once"], token_delay=0.2))
    results: list[httpx.Response] = []
    workers = [
        threading.Thread(
            target=lambda: results.append(api.post("/chat", json=body, headers=headers))
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    later = api.post("/chat", json=body, headers=headers)
    changed = api.post("/chat", json={**body, "message": "twice"}, headers=headers)

    assert [r.status_code for r in results] == [200, 200]
    assert {r.json()["run_id"] for r in [*results, later]} == {results[0].json()["run_id"]}
    assert all(r.json()["response"] == "only once" for r in [*results, later])
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert len(query(database_url, "SELECT id FROM messages WHERE thread_id = 'idem'")) == 2
    assert len(ollama.chat_requests()) == 1


def test_a_retried_stream_rejoins_the_original_run(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.02))
    headers = {"Idempotency-Key": "stream-key"}
    before, _ = _read_until_tokens(api, _body("go", "is"), 2, headers=headers)

    with api.stream("POST", "/stream", json=_body("go", "is"), headers=headers) as response:
        again = list(_events(response.iter_lines()))

    assert again[0].json()["run_id"] == before[0].json()["run_id"]
    assert _tokens(again) == "".join(TOKENS)
    assert len(ollama.chat_requests()) == 1


def test_enqueue_waits_for_the_running_turn(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.queue(Reply(tokens=["first"], first_token_delay=0.8), Reply(tokens=["second"]))
    slow = threading.Thread(
        target=lambda: api.post("/chat", json={"message": "a", "thread_id": "q"})
    )
    slow.start()
    _wait_for_backend(ollama)

    queued = api.post(
        "/chat", json={"message": "b", "thread_id": "q", "multitask_strategy": "enqueue"}
    )
    slow.join()

    assert queued.status_code == 200 and queued.json()["response"] == "second"
    contents = [m["content"] for m in api.get("/threads/q/messages").json()["messages"]]
    assert contents == ["a", "first", "b", "second"]


def test_interrupt_stops_the_running_turn(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.2), Reply(tokens=["new"]))
    _read_until_tokens(api, _body("a", "i"), 1)

    second = api.post(
        "/chat", json={"message": "b", "thread_id": "i", "multitask_strategy": "interrupt"}
    )

    assert second.status_code == 200 and second.json()["response"] == "new"
    statuses = [r["graphchat_status"] for r in api.get("/threads/i/runs").json()]
    assert statuses == ["success", "interrupted"]
    rows = _assistant_rows(database_url, "i")
    assert rows[0]["status"] == "interrupted" and rows[0]["content"].startswith("w0 ")


def test_on_disconnect_cancel_stops_the_run(
    api: httpx.Client, ollama: FakeOllama, database_url: str
) -> None:
    ollama.queue(Reply(tokens=TOKENS, token_delay=0.1))
    before, _ = _read_until_tokens(api, _body("go", "od", on_disconnect="cancel"), 2)

    status = _wait_for_run(database_url, before[0].json()["run_id"])

    assert status == "cancelled"
    assert _assistant_rows(database_url, "od")[0]["status"] == "cancelled"


def _wait_for_backend(ollama: FakeOllama) -> None:
    deadline = time.monotonic() + 10
    while not ollama.chat_requests():
        assert time.monotonic() < deadline
        time.sleep(0.01)
