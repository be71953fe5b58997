"""`graphchat serve` sends a response's head with its body: a JSON answer in one TCP segment, a
stream's head with its first event.

Counted by the client's kernel (`tcpi_data_segs_in` of Linux's `TCP_INFO`): uvicorn alone writes
the head and each body message in calls of their own, one segment each on a loopback connection.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from support.fake_ollama import FakeOllama, Reply
from support.process import ServerProcess

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="counts segments with Linux's TCP_INFO"
)

_DATA_SEGS_IN = 152  # the offset of `tcpi_data_segs_in` in `struct tcp_info` (Linux 4.6+)


def _data_segments_in(connection: socket.socket) -> int:
    info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, _DATA_SEGS_IN)[0])


def _post(connection: socket.socket, path: str, body: Mapping[str, object]) -> None:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: graphchat\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    connection.sendall(head.encode() + data)


def _receive_until(connection: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = connection.recv(65536)
        assert chunk, f"closed before {marker!r}: {received!r}"
        received += chunk
    return received


@pytest.fixture
def server(ollama: FakeOllama, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {
        "GRAPHCHAT_DATABASE_URL": f"sqlite:///{tmp_path / 'graphchat.db'}",
        "GRAPHCHAT_OLLAMA_URL": ollama.url,
        "GRAPHCHAT_UI_ENABLED": "false",
        "GRAPHCHAT_RATE_LIMIT": "",
    }
    process = ServerProcess(env, tmp_path / "server.log").start()
    yield process
    process.stop()


def test_a_json_answer_arrives_in_one_segment(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        before = _data_segments_in(connection)
        _post(connection, "/threads", {"metadata": {"topic": "segments"}})
        answer = _receive_until(connection, b'"topic":"segments"')
        segments = _data_segments_in(connection) - before

    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert segments == 1, answer


def test_a_stream_s_head_arrives_with_its_first_event(
    server: ServerProcess, ollama: FakeOllama
) -> None:
    # The model answers a second later: the head and `metadata` go out alone before it.
    ollama.queue(Reply(tokens=["Hi", " there"], first_token_delay=1.0))
    body = {
        "input": {"messages": [{"role": "user", "content": "Hello"}]},
        "stream_mode": ["messages"],
    }
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        before = _data_segments_in(connection)
        _post(connection, "/stream", body)
        opening = _receive_until(connection, b"event: metadata")
        segments = _data_segments_in(connection) - before
        rest = _receive_until(connection, b"\r\n0\r\n\r\n")

    assert opening.startswith(b"HTTP/1.1 200"), opening
    assert b"text/event-stream" in opening
    assert segments == 1, opening
    assert b"Hi" in rest and b"event: end" in rest  # the rest of the stream follows
