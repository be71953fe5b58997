"""`graphchat serve` writes JSON lines carrying the request id, down to the model call."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.fake_ollama import FakeOllama

SECRET_WORDS = "the launch code is swordfish"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(
    tmp_path: Path, ollama: FakeOllama, database_url: str | None = None, **env: str
) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log_path = tmp_path / "server.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")}
    environment.update(
        GRAPHCHAT_DATABASE_URL=database_url or f"sqlite:///{tmp_path / 'graphchat.db'}",
        GRAPHCHAT_OLLAMA_URL=ollama.url,
        GRAPHCHAT_LOG_FORMAT="json",
        GRAPHCHAT_LOG_LEVEL="info",
        **env,
    )
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphchat", "serve", "--port", str(port)],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # start-up is slow on a loaded CI machine
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "graphchat serve did not start"
            time.sleep(0.2)
        yield url, log_path
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture
def served(tmp_path: Path, ollama: FakeOllama, database_url: str) -> Iterator[tuple[str, Path]]:
    """A server on each database: on PostgreSQL a turn's graph starts in another task
    (`service/head_start.py`), whose lines must carry the same ids."""
    yield from _serve(tmp_path, ollama, database_url)


def _lines(log_path: Path) -> list[dict[str, Any]]:
    text = log_path.read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _wait_for(log_path: Path, event: str, request_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in _lines(log_path) if line.get("request_id") == request_id]
        if any(line["event"] == event for line in lines):
            return lines
        time.sleep(0.1)
    raise AssertionError(f"no {event} line for {request_id}")


def test_each_request_logs_one_json_line_with_its_request_id(
    served: tuple[str, Path],
) -> None:
    url, log_path = served
    response = httpx.get(f"{url}/threads/missing", headers={"X-Request-ID": "probe-42"})

    lines = _wait_for(log_path, "request", "probe-42")

    assert response.headers["X-Request-ID"] == "probe-42"
    access = [line for line in lines if line["event"] == "request"]
    assert len(access) == 1
    assert access[0]["method"] == "GET" and access[0]["path"] == "/threads/missing"
    assert access[0]["status"] == 404 and access[0]["latency_ms"] >= 0
    assert access[0]["level"] == "info" and "timestamp" in access[0]


def test_model_call_lines_carry_request_run_thread_and_model_but_no_content(
    served: tuple[str, Path],
) -> None:
    url, log_path = served
    reply = httpx.post(
        f"{url}/chat",
        json={"message": SECRET_WORDS},
        headers={"X-Request-ID": "turn-7"},
        timeout=60,
    ).json()

    lines = _wait_for(log_path, "model_call", "turn-7")

    call = next(line for line in lines if line["event"] == "model_call")
    assert call["run_id"] == reply["run_id"] and call["thread_id"] == reply["thread_id"]
    assert call["model"] == reply["model"] and call["outcome"] == "ok"
    assert call["completion_tokens"] > 0
    assert "swordfish" not in log_path.read_text()


def test_content_is_logged_only_when_asked(tmp_path: Path, ollama: FakeOllama) -> None:
    for url, log_path in _serve(tmp_path, ollama, GRAPHCHAT_LOG_CONTENT="true"):
        httpx.post(
            f"{url}/chat",
            json={"message": SECRET_WORDS},
            headers={"X-Request-ID": "dbg"},
            timeout=60,
        )
        call = next(
            line
            for line in _wait_for(log_path, "model_call", "dbg")
            if line["event"] == "model_call"
        )
        assert call["prompt"] == SECRET_WORDS
