"""A server killed with SIGKILL mid-run: after a restart the run is `interrupted`, its partial
answer kept, and the thread takes new turns."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.process import ServerProcess
from support.sse import frames


def _wait_for_stored_tokens(database_url: str, run_id: str, count: int) -> None:
    """Poll until the event writer (a flush every 50 ms) has stored `count` token events."""
    sql = "SELECT events FROM run_events WHERE run_id = :r"  # batches: [[seq, event, data], …]

    def stored_tokens() -> int:
        batches = [json.loads(row["events"]) for row in query(database_url, sql, r=run_id)]
        return sum(1 for batch in batches for _, event, _ in batch if event == "token")

    deadline = time.monotonic() + 30
    while stored_tokens() < count:
        assert time.monotonic() < deadline, "the run's token events were never stored"
        time.sleep(0.02)


def test_a_killed_server_leaves_no_thread_busy(
    database_url: str, ollama: FakeOllama, tmp_path: Path
) -> None:
    env = {
        "GRAPHCHAT_DATABASE_URL": database_url,
        "GRAPHCHAT_OLLAMA_URL": ollama.url,
        "GRAPHCHAT_LOG_FORMAT": "json",
        "GRAPHCHAT_UI_ENABLED": "false",
    }
    ollama.queue(Reply(tokens=[f"t{i} " for i in range(40)], token_delay=0.1))
    server = ServerProcess(env, tmp_path / "server.log").start()
    seen: list[str] = []
    body: dict[str, Any] = {
        "input": {"messages": [{"role": "user", "content": "long"}], "thread_id": "crash"}
    }
    try:
        with server.client() as client, client.stream("POST", "/stream", json=body) as response:
            run_id = ""
            for frame in frames(response.iter_lines()):
                if frame.event == "metadata":
                    run_id = frame.json()["run_id"]
                if frame.event == "messages":
                    seen.append(frame.json()[0]["content"])
                if len(seen) == 5:
                    break
        _wait_for_stored_tokens(database_url, run_id, len(seen))
        server.kill()
    finally:
        server.stop()

    assert query(database_url, "SELECT status FROM runs WHERE id = :r", r=run_id) == [
        {"status": "running"}
    ]
    restarted = ServerProcess(env, tmp_path / "server.log", port=server.port).start()
    try:
        with restarted.client() as client:
            run = client.get(f"/threads/crash/runs/{run_id}").json()
            messages = client.get("/threads/crash/messages").json()["messages"]
            again = client.post("/chat", json={"message": "still there?", "thread_id": "crash"})
    finally:
        restarted.stop()

    assert run["status"] == "interrupted"
    partial = next(m for m in messages if m["role"] == "assistant")
    assert partial["status"] == "interrupted"
    assert partial["content"].startswith("".join(seen))
    assert again.status_code == 200
    assert again.json()["response"] == "You said: still there?"
