"""`graphchat serve` keeps an idle connection open longer than its clients do.

httpx (under the `openai` and `langgraph-sdk` clients) drops an idle pooled connection after 5 s,
uvicorn's own default. At equal timeouts a request sent on a connection just as the server
closes it is reset: one turn in a few thousand of a 64-client benchmark failed that way
(bench/analysis.md, round 32). With the server's timeout above the client's, the client closes.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from support.fake_ollama import FakeOllama
from support.process import ServerProcess

_HTTPX_KEEPALIVE_EXPIRY = 5.0


def _get(connection: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 GET on a kept-alive connection: the response's head and body, or the bytes
    read before the server closed it."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: graphchat\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_connection_idle_past_httpx_s_expiry_still_answers(
    ollama: FakeOllama, tmp_path: Path
) -> None:
    env = {
        "GRAPHCHAT_DATABASE_URL": f"sqlite:///{tmp_path / 'graphchat.db'}",
        "GRAPHCHAT_OLLAMA_URL": ollama.url,
        "GRAPHCHAT_UI_ENABLED": "false",
    }
    server = ServerProcess(env, tmp_path / "server.log").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            first = _get(connection, "/health")
            time.sleep(_HTTPX_KEEPALIVE_EXPIRY + 1)
            try:
                second = _get(connection, "/health")
            except ConnectionResetError:
                second = b"reset"
    finally:
        server.stop()

    assert first.startswith(b"HTTP/1.1 200"), first
    assert second.startswith(b"HTTP/1.1 200"), second  # not closed, not reset
