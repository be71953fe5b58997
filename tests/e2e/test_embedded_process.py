"""The embedded model's process is supervised: its crash costs one reply, never the service.

Real parts throughout: the real worker process running SmolLM2, killed with SIGKILL as the
out-of-memory killer would; a truncated GGUF file; the worker's own protocol for cancelling.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphchat.llm.embedded import packaged_model_path
from graphchat.llm.embedded_process import exit_reason
from support.db import query
from support.server import LiveServer
from support.sse import frames

pytestmark = pytest.mark.embedded
LONG = {"max_tokens": 400, "temperature": 0}


def _embedded_process(api: httpx.Client) -> dict[str, Any]:
    [model] = api.get("/models").json()["models"]
    details: dict[str, Any] = model["details"]
    return details


def _wait_for_process(api: httpx.Client, status: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        details = _embedded_process(api)
        if details["process"] == status:
            return details
        time.sleep(0.05)
    raise AssertionError(f"the model process never became {status}: {details}")


@pytest.fixture
def embedded_api(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    with start_server(ollama_url="").client(timeout=120.0) as client:
        yield client


def test_a_killed_model_process_ends_the_stream_with_an_error_and_the_service_keeps_serving(
    embedded_api: httpx.Client, database_url: str
) -> None:
    pid = _wait_for_process(embedded_api, "ready")["pid"]
    body = {
        "input": {"messages": [{"role": "user", "content": "Tell me a long story about a fox."}]},
        "config": {"configurable": {"thread_id": "crash", **LONG}},
    }
    seen: list[str] = []
    events: list[str] = []
    with embedded_api.stream("POST", "/stream", json=body) as response:
        for frame in frames(response.iter_lines()):
            if frame.event:
                events.append(frame.event)
            if frame.event == "messages":
                seen.append(frame.json()[0]["content"])
                if len(seen) == 3:
                    os.kill(pid, signal.SIGKILL)
            if frame.event == "error":
                error = frame.json()["error"]

    assert events[-1] == "error", events
    assert error["code"] == "llm_unavailable" and "SIGKILL" in error["message"]
    assert embedded_api.get("/health").status_code == 200
    [run] = query(database_url, "SELECT status FROM runs WHERE thread_id = 'crash'")
    assert run["status"] == "error"
    stored = query(
        database_url,
        "SELECT role, content, status FROM messages WHERE thread_id = 'crash' ORDER BY seq",
    )
    assert stored[0]["role"] == "user" and stored[0]["content"].startswith("Tell me")
    assert stored[1]["role"] == "assistant" and stored[1]["status"] == "error"
    assert stored[1]["content"].startswith("".join(seen))

    restarted = _wait_for_process(embedded_api, "ready")
    assert restarted["pid"] != pid and restarted["restarts"] == 1
    metrics = embedded_api.get("/metrics").text
    assert 'graphchat_model_process_restarts{backend="embedded"} 1.0' in metrics
    assert 'graphchat_model_process_state{backend="embedded",state="ready"} 1.0' in metrics
    again = embedded_api.post(
        "/chat", json={"message": "Are you back?", "thread_id": "crash", "max_tokens": 8}
    )
    assert again.status_code == 200, again.text
    assert again.json()["response"].strip()


def test_ctrl_c_is_left_to_the_server_and_the_model_keeps_serving(
    embedded_api: httpx.Client,
) -> None:
    # A terminal's Ctrl-C signals every process of the group: the server, and its model.
    ready = _wait_for_process(embedded_api, "ready")
    os.kill(ready["pid"], signal.SIGINT)

    answer = embedded_api.post("/chat", json={"message": "Still there?", "max_tokens": 8})

    assert answer.status_code == 200, answer.text
    assert answer.json()["response"].strip()
    after = _embedded_process(embedded_api)
    assert (after["process"], after["pid"], after["restarts"]) == ("ready", ready["pid"], 0)


def test_two_concurrent_turns_on_the_one_model_both_complete(
    embedded_api: httpx.Client, database_url: str
) -> None:
    def turn(thread: str) -> httpx.Response:
        chat = {"message": "Name a colour.", "thread_id": thread, "max_tokens": 12}
        return embedded_api.post("/chat", json=chat)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(turn, ["one", "two"]))

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert all(r.json()["response"].strip() for r in responses)
    rows = query(
        database_url,
        "SELECT thread_id, status FROM messages WHERE role = 'assistant' ORDER BY thread_id",
    )
    assert rows == [
        {"thread_id": "one", "status": "complete"},
        {"thread_id": "two", "status": "complete"},
    ]


def test_a_model_file_that_cannot_load_is_reported_and_refused_with_503(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    source = packaged_model_path()
    assert source is not None
    truncated = tmp_path / "broken.gguf"
    with source.open("rb") as whole:
        truncated.write_bytes(whole.read(1 << 20))
    server = start_server(ollama_url="", embedded_model_path=truncated)
    with server.client(timeout=60.0) as api:
        assert api.get("/health").status_code == 200
        details = _wait_for_process(api, "failed")
        ready = api.get("/ready")
        chat = api.post("/chat", json={"message": "hello?"})

    assert details["reason"]
    assert ready.status_code == 503
    [check] = [c for c in ready.json()["error"]["details"] if c["name"] == "llm:embedded"]
    assert check["ok"] is False and "failed" in check["error"]
    assert chat.status_code == 503
    error = chat.json()["error"]
    assert error["code"] == "llm_unavailable" and "embedded model" in error["message"]


def test_cancelling_stops_generation_in_the_worker() -> None:
    model = packaged_model_path()
    assert model is not None
    config = {"model_path": str(model), "n_ctx": 1024, "n_threads": 1}
    worker = subprocess.Popen(
        [sys.executable, "-m", "graphchat.llm.embedded_worker", json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        assert json.loads(worker.stdout.readline())["type"] == "ready"
        messages = [{"role": "user", "content": "Write a very long essay about rivers."}]
        command = {"type": "generate", "id": 1, "messages": messages, "options": LONG}
        worker.stdin.write(json.dumps(command) + "\n")
        worker.stdin.flush()
        assert json.loads(worker.stdout.readline())["type"] == "token"
        worker.stdin.write(json.dumps({"type": "cancel", "id": 1}) + "\n")
        worker.stdin.flush()
        while (message := json.loads(worker.stdout.readline()))["type"] == "token":
            pass
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)

    assert message["type"] == "done" and message["finish_reason"] == "cancelled"
    assert message["completion_tokens"] < LONG["max_tokens"] // 2
    assert worker.returncode == 0  # end of input ends the worker cleanly


def test_a_crash_is_described_by_its_signal() -> None:
    lines = collections.deque(["loading\n", "ggml: fatal\n"])
    assert exit_reason(-signal.SIGILL, lines) == (
        "the model process died of SIGILL (illegal instruction: this CPU cannot run the "
        "llama.cpp build); last output: ggml: fatal"
    )
    assert exit_reason(3, collections.deque()) == "the model process exited with status 3"
