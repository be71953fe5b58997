"""A server stopped while requests still wait on their runs: once its shutdown grace has passed,
each waiting request gets 503 `shutting_down` in its API's error shape, and each run is stored
`interrupted` with what the model had said."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from support.background import in_background, wait_until
from support.fake_ollama import FakeOllama, Reply
from support.process import ServerProcess, server_env

_SLOW_REPLY = Reply(tokens=[f"t{i} " for i in range(60)], token_delay=0.1)  # ~6 s


def test_requests_cut_at_shutdown_get_503_in_their_shape(
    database_url: str, ollama: FakeOllama, tmp_path: Path
) -> None:
    env = server_env(
        database_url,
        ollama.url,
        GRAPHCHAT_TITLES_FROM_MODEL="false",
        GRAPHCHAT_SHUTDOWN_GRACE_SECONDS="1",
    )
    ollama.queue(_SLOW_REPLY, _SLOW_REPLY)
    log_path = tmp_path / "server.log"
    server = ServerProcess(env, log_path).start()
    try:
        chat, chat_answer = in_background(
            lambda: httpx.post(
                f"{server.url}/chat", json={"message": "long one", "thread_id": "cut"}, timeout=60
            )
        )
        completion, completion_answer = in_background(
            lambda: httpx.post(
                f"{server.url}/v1/chat/completions",
                json={"model": "llama3.2", "messages": [{"role": "user", "content": "long two"}]},
                timeout=60,
            )
        )
        wait_until(lambda: len(ollama.chat_requests()) == 2, "the model was never asked", 30)
        assert server.process is not None
        stopping_at = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=30)
        stopped_after = time.monotonic() - stopping_at
        chat.join(timeout=30)
        completion.join(timeout=30)
    finally:
        server.stop()

    assert stopped_after < 5, "the server waited for the model instead of its grace"
    [cut_chat], [cut_completion] = chat_answer, completion_answer
    assert cut_chat.status_code == 503
    assert cut_chat.headers["retry-after"] == "1"
    assert cut_chat.json()["error"]["code"] == "shutting_down"
    assert cut_completion.status_code == 503
    assert cut_completion.json()["error"]["code"] == "shutting_down"
    assert cut_completion.json()["error"]["type"] == "server_error"
    log = log_path.read_text()
    assert log.count('"request_cut_at_shutdown"') == 2
    assert "Exception in ASGI application" not in log

    restarted = ServerProcess(env, log_path, port=server.port).start()
    try:
        with restarted.client() as client:
            runs = client.get("/threads/cut/runs").json()
            messages = client.get("/threads/cut/messages").json()["messages"]
    finally:
        restarted.stop()
    assert [run["graphchat_status"] for run in runs] == ["interrupted"]
    partial = next(message for message in messages if message["role"] == "assistant")
    assert partial["status"] == "interrupted"
    assert partial["content"].startswith("t0 t1 ")
