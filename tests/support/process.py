"""graphchat as a separate process (`python -m graphchat serve`), for restart and kill tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[Any], timeout: float) -> None:
    """Poll `url` until it answers 200; fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f}s")


class ServerProcess:
    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")},
            **env,
            "GRAPHCHAT_PORT": str(self.port),
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "graphchat", "serve"], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"graphchat exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("graphchat did not start")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no cleanup — a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(database_url: str, ollama_url: str, **extra: str) -> dict[str, str]:
    """A test server's settings: JSON logs, no rate limit, no UI, then `extra`."""
    return {
        "GRAPHCHAT_DATABASE_URL": database_url,
        "GRAPHCHAT_OLLAMA_URL": ollama_url,
        "GRAPHCHAT_LOG_FORMAT": "json",
        "GRAPHCHAT_RATE_LIMIT": "",
        "GRAPHCHAT_UI_ENABLED": "false",
    } | extra


@contextmanager
def running(env: dict[str, str], log_path: Path) -> Iterator[ServerProcess]:
    """A started server, stopped on exit."""
    server = ServerProcess(env, log_path).start()
    try:
        yield server
    finally:
        server.stop()
