"""Fixtures for the CLI client tests: the command against the live server, and canned servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cli.runner import Cli, client_env
from support.server import LiveServer


@pytest.fixture
def cli(server: LiveServer, tmp_path: Path) -> Cli:
    """The command, pointed at the live test server through GRAPHCHAT_URL."""
    return Cli(client_env(tmp_path, server.url))


@pytest.fixture
def offline_cli(tmp_path: Path) -> Cli:
    """The command with no server configured (tests pass --url)."""
    return Cli(client_env(tmp_path))


@dataclass
class Stub:
    """A tiny HTTP server that answers every request with one canned response."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def stub() -> Iterator[Any]:
    """`stub(status, body, headers)` starts a canned-answer server; all stopped at teardown."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Stub:
        canned = Stub(status, body, headers or {})

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                canned.requests.append((self.command, self.path, dict(self.headers)))
                data = json.dumps(canned.body).encode()
                self.send_response(canned.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815 (http.server names)

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        canned.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        return canned

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
