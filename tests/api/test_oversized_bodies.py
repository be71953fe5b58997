"""Oversized and slow bodies are answered, never reset: every client reads the error object.

Against `graphchat serve` in its own process (uvloop + httptools, as deployed): the server used
to answer 413 before reading the body and close while the client was still writing, so a client
that writes its whole body before reading (urllib, a plain socket) got a broken pipe.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.fake_ollama import FakeOllama
from support.process import ServerProcess

ROUNDS = 20
LIMIT = 1_048_576
BODY = json.dumps({"message": "x" * (3 * LIMIT)}).encode()
CHUNK = 64 * 1024


def _chunks() -> Iterator[bytes]:
    for start in range(0, len(BODY), CHUNK):
        yield BODY[start : start + CHUNK]


def _serve(tmp_path: Path, ollama: FakeOllama, **env: str) -> ServerProcess:
    base = {
        "GRAPHCHAT_DATABASE_URL": f"sqlite:///{tmp_path / 'graphchat.db'}",
        "GRAPHCHAT_OLLAMA_URL": ollama.url,
        "GRAPHCHAT_LOG_FORMAT": "json",
        "GRAPHCHAT_UI_ENABLED": "false",
        "GRAPHCHAT_RATE_LIMIT": "",
        "GRAPHCHAT_MAX_BODY_BYTES": str(LIMIT),
    }
    return ServerProcess({**base, **env}, tmp_path / "server.log").start()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, fake_ollama_server: FakeOllama
) -> Iterator[ServerProcess]:
    server = _serve(tmp_path_factory.mktemp("oversized"), fake_ollama_server)
    try:
        yield server
    finally:
        server.stop()


def _error_code(status: int, body: bytes) -> tuple[int, str]:
    return status, json.loads(body)["error"]["code"]


def _urllib(url: str, chunked: bool) -> tuple[int, str]:
    data: Any = _chunks() if chunked else BODY
    request = urllib.request.Request(
        f"{url}/chat", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return _error_code(response.status, response.read())
    except urllib.error.HTTPError as error:
        return _error_code(error.code, error.read())


def _httpx(url: str, chunked: bool) -> tuple[int, str]:
    content: Any = _chunks() if chunked else BODY
    response = httpx.post(
        f"{url}/chat", content=content, headers={"Content-Type": "application/json"}, timeout=30
    )
    return _error_code(response.status_code, response.content)


def _read_response(sock: socket.socket) -> tuple[int, str]:
    """One HTTP response, framed by its Content-Length (the server need not close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or _closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536) or _closed()
    return _error_code(int(lines[0].split()[1]), body)


def _closed() -> bytes:
    raise ConnectionError("the server closed the connection before answering")


def _raw_socket(url: str, chunked: bool) -> tuple[int, str]:
    """Writes every byte of the body before reading anything, as the simplest client does."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(BODY)
        sock.sendall(
            b"POST /chat HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + framing
            + b"\r\n\r\n"
        )
        for chunk in _chunks():
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        return _read_response(sock)


CLIENTS: dict[str, Callable[[str, bool], tuple[int, str]]] = {
    "urllib": _urllib,
    "httpx": _httpx,
    "raw-socket": _raw_socket,
}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_reads_the_413_error_every_time(
    served: ServerProcess, client: str, chunked: bool
) -> None:
    outcomes = [CLIENTS[client](served.url, chunked) for _ in range(ROUNDS)]
    assert outcomes == [(413, "payload_too_large")] * ROUNDS


def test_a_client_expecting_100_continue_is_refused_before_it_sends(
    served: ServerProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(
            b"POST /chat HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        )
        assert _read_response(sock) == (413, "payload_too_large")


def test_a_body_that_trickles_is_cut_off_with_408_and_a_log_line(
    tmp_path: Path, fake_ollama_server: FakeOllama
) -> None:
    server = _serve(tmp_path, fake_ollama_server, GRAPHCHAT_BODY_READ_TIMEOUT_SECONDS="0.5")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /chat HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"message": '
            )
            outcome = _read_response(sock)
    finally:
        server.stop()
    assert outcome == (408, "request_timeout")
    assert "request_body_timeout" in _logged_events(server.log_path)


def _logged_events(log_path: Path) -> set[str]:
    events = set()
    for line in log_path.read_text().splitlines():
        try:
            events.add(json.loads(line).get("event"))
        except ValueError:
            continue  # not one of our JSON lines
    return events
