"""MCP servers as tool sources: a real FastMCP server (Streamable HTTP, loopback, a subprocess)
whose tools are listed, called by the agent and stored; a server that dies mid-call or is down
costs the model an error message, never the turn."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from graphchat.settings import Settings
from support.fake_ollama import FakeOllama, Reply, tool_calls
from support.process import free_port
from support.server import LiveServer

SERVER_SCRIPT = Path(__file__).parent.parent / "support" / "mcp_server.py"


class McpProcess:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.marker = tmp_path / "slow-started"
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), str(self.port), str(self.marker)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def _wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the MCP server exited"
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError("the MCP server did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def mcp_server(tmp_path: Path) -> Iterator[McpProcess]:
    server = McpProcess(tmp_path)
    yield server
    server.kill()


def _connections(url: str) -> str:
    return json.dumps({"demo": {"transport": "streamable_http", "url": url}})


def _poll(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_an_mcp_tool_is_listed_called_and_its_result_stored(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, mcp_server: McpProcess
) -> None:
    server = start_server(mcp_servers=_connections(mcp_server.url))
    ollama.queue(tool_calls(("a1", "demo__add", {"a": 2, "b": 40})), Reply(tokens=["42"]))

    with server.client() as api:
        listed = api.get("/tools").json()
        ready = api.get("/ready").json()
        reply = api.post("/chat", json={"message": "2+40 with MCP"}).json()
        stored = api.get(f"/threads/{reply['thread_id']}/messages").json()["messages"]

    add = next(tool for tool in listed["tools"] if tool["name"] == "demo__add")
    assert add["source"] == "mcp:demo"
    assert add["description"] == "Add two integers."
    assert set(add["parameters"]["properties"]) == {"a", "b"}
    assert add["requires_approval"] is False
    assert listed["mcp_servers"][0]["ok"] is True
    assert {"demo__add", "demo__slow"} <= set(listed["mcp_servers"][0]["tools"])
    mcp_check = ready["checks"][-1]
    assert (mcp_check["name"], mcp_check["ok"], mcp_check["required"]) == ("mcp:demo", True, False)
    offered = [t["function"]["name"] for t in ollama.chat_requests()[0]["tools"]]
    assert "demo__add" in offered
    tool_message = next(m for m in stored if m["role"] == "tool")
    assert (tool_message["content"], tool_message["status"]) == ("42", "complete")
    assert reply["response"] == "42"


def test_a_server_killed_mid_call_becomes_an_error_message_and_the_turn_ends(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, mcp_server: McpProcess
) -> None:
    server = start_server(mcp_servers=_connections(mcp_server.url), tool_timeout_seconds=30)
    ollama.queue(tool_calls(("s1", "demo__slow", {"text": "hi"})), Reply(tokens=["It failed."]))
    result: dict[str, httpx.Response] = {}

    def chat() -> None:
        with server.client() as api:
            result["reply"] = api.post("/chat", json={"message": "be slow"})

    worker = threading.Thread(target=chat)
    worker.start()
    _poll(mcp_server.marker.exists)
    mcp_server.kill()
    worker.join(40)

    reply = result["reply"]
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"] == "It failed."
    tool_message = next(m for m in reply.json()["messages"] if m["role"] == "tool")
    assert tool_message["status"] == "error"
    assert tool_message["content"].startswith("Error: MCP server 'demo' failed")
    with server.client() as api:
        _poll(lambda: api.get("/tools").json()["mcp_servers"][0]["ok"] is False)
        ready = api.get("/ready")
    assert ready.status_code == 200  # an MCP server down never makes the service unready
    assert ready.json()["checks"][-1]["ok"] is False


def test_a_server_down_at_start_up_is_reported_and_retried(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, tmp_path: Path
) -> None:
    port = free_port()
    server = start_server(
        mcp_servers=_connections(f"http://127.0.0.1:{port}/mcp"), mcp_retry_seconds=0.2
    )
    with server.client() as api:
        down = api.get("/tools").json()["mcp_servers"][0]
        assert (down["ok"], down["tools"]) == (False, [])
        assert down["error"]
        assert api.post("/chat", json={"message": "still works"}).status_code == 200

        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), str(port), str(tmp_path / "m")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _poll(lambda: api.get("/tools").json()["mcp_servers"][0]["ok"] is True)
            names = [tool["name"] for tool in api.get("/tools").json()["tools"]]
        finally:
            process.kill()
            process.wait(10)
    assert "demo__add" in names


def test_a_stdio_server_is_refused_unless_allowed() -> None:
    stdio = {"local": {"transport": "stdio", "command": sys.executable, "args": ["-V"]}}

    with pytest.raises(ValidationError, match="GRAPHCHAT_MCP_ALLOW_STDIO"):
        Settings(mcp_servers=stdio)

    assert Settings(mcp_servers=stdio, mcp_allow_stdio=True).mcp.servers == stdio
