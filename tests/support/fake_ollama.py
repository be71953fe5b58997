"""A real HTTP server that speaks Ollama's protocol, with scripted replies and faults.

Tests queue `Reply` objects; each `POST /api/chat` takes the next one (or echoes the last user
message when none is queued). Every request body is recorded so tests can assert exactly what
graphchat sent, and every client that hung up mid-reply is counted.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer to `/api/chat`."""

    tokens: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    status: int = 200
    error: str | None = None  # the `{"error": …}` body of a non-200 status
    first_token_delay: float = 0.0  # seconds before the response starts
    token_delay: float = 0.0  # seconds between chunks
    error_after: int | None = None  # send `{"error": …}` after this many tokens
    stall_after: int | None = None  # go silent for `stall_seconds` after this many tokens
    stall_seconds: float = 30.0
    drop_after: int | None = None  # close the connection after this many tokens
    done_reason: str = "stop"
    prompt_eval_count: int = 7
    eval_count: int | None = None


def tool_calls(*calls: tuple[str, str, dict[str, Any]]) -> Reply:
    """A reply that only calls tools: `(call id, tool name, arguments)` each."""
    return Reply(
        tokens=[],
        tool_calls=[
            {"id": call_id, "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls
        ],
    )


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    client_port: int = 0  # the same for requests that came over one kept-alive connection


def echo_tokens(body: dict[str, Any]) -> list[str]:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = users[-1]["content"] if users else ""
    return ["You ", "said: ", text]


class _Server(ThreadingHTTPServer):
    """Quiet when a client resets its connection (wrk does, ending a level), as Ollama is."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeOllama:
    """Start with `start()`, point graphchat at `url`, queue replies with `queue()`."""

    def __init__(self, models: tuple[str, ...] = ("llama3.2:latest", "qwen2.5:0.5b")) -> None:
        self.models = list(models)
        self.capabilities: dict[str, list[str]] = {}
        self.replies: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.down = False  # answer every request with 503, as an overloaded server does
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ---
    def start(self, port: int = 0) -> FakeOllama:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.requests.clear()
            self.disconnects = 0
            self.down = False

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body or {} for r in self.requests if r.path == "/api/chat"]

    def requests_ending(self, text: str) -> list[list[dict[str, Any]]]:
        """The messages of each chat request whose last message is `text`, in arrival order."""
        asked = [body["messages"] for body in self.chat_requests()]
        return [messages for messages in asked if messages[-1]["content"] == text]

    def asked(self, text: str) -> bool:
        """Whether a chat request came whose last message is `text`."""
        return bool(self.requests_ending(text))

    # --- used by the handler ---
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self) -> Reply | None:
        with self._lock:
            return self.replies.popleft() if self.replies else None

    def _count_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"
    # Real Ollama sets TCP_NODELAY; without it each kept-alive response waits ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing ---
    def _read_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            data = json.loads(raw)
        except ValueError:
            return {"_raw": raw.decode("utf-8", "replace")}
        return data if isinstance(data, dict) else {"_raw": data}

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _record(self, body: dict[str, Any] | None) -> None:
        self.fake._record(
            RecordedRequest(
                self.command,
                self.path,
                body,
                {k.lower(): v for k, v in self.headers.items()},
                self.client_address[1],
            )
        )

    # --- routes ---
    def do_GET(self) -> None:
        self._record(None)
        if self.fake.down:
            self._send_json(503, {"error": "server overloaded"})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [self._model_entry(name) for name in self.fake.models]})
        elif self.path == "/api/version":
            self._send_json(200, {"version": "0.12.0-fake"})
        elif self.path == "/":
            self._send_json(200, "Ollama is running")
        else:
            self._send_json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        if self.fake.down:
            self._send_json(503, {"error": "server overloaded"})
        elif self.path == "/api/chat":
            self._chat(body or {})
        elif self.path == "/api/show":
            self._show(body or {})
        else:
            self._send_json(404, {"error": "not found"})

    def _model_entry(self, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "model": name,
            "modified_at": "2026-01-01T00:00:00Z",
            "size": 1000,
            "digest": "0" * 64,
            "details": {"family": "fake", "parameter_size": "1B", "quantization_level": "Q4_0"},
        }
        if name in self.fake.capabilities:
            entry["capabilities"] = self.fake.capabilities[name]
        return entry

    def _show(self, body: dict[str, Any]) -> None:
        name = self._resolve(str(body.get("model", "")))
        if name is None:
            self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        caps = self.fake.capabilities.get(name, ["completion", "tools"])
        self._send_json(200, {"capabilities": caps, "details": {"family": "fake"}})

    def _resolve(self, model: str) -> str | None:
        for name in self.fake.models:
            if model in (name, name.removesuffix(":latest")):
                return name
        return None

    def _chat(self, body: dict[str, Any]) -> None:
        reply = self.fake._next_reply() or Reply()
        if reply.first_token_delay:
            time.sleep(reply.first_token_delay)
        model = self._resolve(str(body.get("model", "")))
        if reply.status != 200:
            self._send_json(reply.status, {"error": reply.error or "scripted failure"})
            return
        if model is None:
            self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        if body.get("stream") is False:
            self._send_json(400, {"error": "graphchat always streams; stream=false not scripted"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._stream(reply, model, body)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.fake._count_disconnect()
            self.close_connection = True

    def _stream(self, reply: Reply, model: str, body: dict[str, Any]) -> None:
        tokens = reply.tokens if reply.tokens is not None else echo_tokens(body)
        base = {"model": model, "created_at": "2026-01-01T00:00:00Z"}
        for index, token in enumerate(tokens):
            if reply.error_after is not None and index == reply.error_after:
                self._chunk({"error": "scripted mid-stream failure"})
                return
            if reply.drop_after is not None and index == reply.drop_after:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if reply.stall_after is not None and index == reply.stall_after:
                time.sleep(reply.stall_seconds)
            if index and reply.token_delay:
                time.sleep(reply.token_delay)
            message = {"role": "assistant", "content": token}
            self._chunk({**base, "message": message, "done": False})
        if reply.tool_calls:
            self._chunk(
                {
                    **base,
                    "message": {"role": "assistant", "content": "", "tool_calls": reply.tool_calls},
                    "done": False,
                }
            )
        if reply.token_delay:
            time.sleep(reply.token_delay)
        self._chunk(
            {
                **base,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": reply.done_reason,
                "total_duration": 1000,
                "prompt_eval_count": reply.prompt_eval_count,
                "eval_count": reply.eval_count if reply.eval_count is not None else len(tokens),
            }
        )
