"""A streamed reply as the client commands read it: SSE events become tokens, tool calls and the
reply's end.

A connection lost mid-reply is rejoined where it broke: the stream's `Location` names the rejoin
URL (in the same vocabulary and modes) and `Last-Event-ID` the last event read, so the reply goes
on with no token missed or repeated, across a dropped proxy connection or the server's restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx

from graphchat.cli.client_errors import ServerError, UnreachableError, translated_errors
from graphchat.cli.wire import WireUsage

# Seconds between attempts to rejoin (a server's restart takes ~2 s, a failover less); the
# server's `retry:` hint caps each. The count starts again once a rejoin has read a new event.
REJOIN_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)
_DEFAULT_RETRY_MS = 3000  # the SSE default when the server sends no hint
_CUT = "the connection closed before the reply was complete"
_NOT_BACK_YET = (502, 503, 504)  # a proxy's answers while the server restarts

# Opens the rejoin URL with the last event id read (None: none yet) and answers its stream.
RejoinOpener = Callable[[str, str | None], AbstractContextManager[httpx.Response]]


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None  # the server's reconnection time (ms), as last sent


def iter_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from SSE lines (WHATWG rules: `data` lines joined by newlines, comments dropped,
    the last `id` and `retry` kept for the events after them, an event cut off by the end of the
    stream, before its blank line, dropped)."""
    name, event_id, retry = "message", None, None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield SseEvent(name, "\n".join(data), event_id, retry)
            name, data = "message", []
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
        elif key == "id":
            event_id = value
        elif key == "retry" and value.isdigit():
            retry = int(value)


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class ToolCalled:
    name: str


@dataclass(frozen=True)
class Rejoining:
    """The connection was lost mid-reply (`reason`); the reply is being rejoined."""

    reason: str


@dataclass(frozen=True)
class Finished:
    status: str
    finish_reason: str | None
    usage: WireUsage | None
    pending: dict[str, Any] | None = None  # `requires_action`: the calls waiting for approval
    thread_id: str | None = None
    run_id: str | None = None


StreamItem = Token | ToolCalled | Rejoining | Finished


@dataclass
class ReplyStream:
    """One streamed reply; `thread_id`/`run_id` are known as soon as the headers arrive.

    With `rejoin`, a connection lost before the reply's end is rejoined (see the module)."""

    response: httpx.Response
    rejoin: RejoinOpener | None = None
    thread_id: str | None = None
    run_id: str | None = None
    model: str | None = None
    text: list[str] = field(default_factory=list)
    _location: str | None = field(default=None, init=False)  # the rejoin URL, from the headers
    _last_id: str | None = field(default=None, init=False)
    _retry_ms: int = field(default=_DEFAULT_RETRY_MS, init=False)

    def __post_init__(self) -> None:
        # Content-Location is `/threads/{thread_id}/runs/{run_id}`.
        parts = self.response.headers.get("content-location", "").strip("/").split("/")
        if len(parts) == 4 and parts[0] == "threads" and parts[2] == "runs":
            self.thread_id, self.run_id = parts[1], parts[3]
        self._location = self.response.headers.get("location")

    def __iter__(self) -> Iterator[StreamItem]:
        lost = yield from self._items(self.response)
        failures = 0
        while lost is not None:
            if self.rejoin is None or not self._location or failures == len(REJOIN_DELAYS):
                raise UnreachableError(lost)
            if failures == 0:
                yield Rejoining(lost)
            time.sleep(min(REJOIN_DELAYS[failures], self._retry_ms / 1000))
            read_before = self._last_id
            lost = yield from self._rejoined(self.rejoin, self._location)
            failures = 0 if self._last_id != read_before else failures + 1

    def _rejoined(
        self, rejoin: RejoinOpener, location: str
    ) -> Generator[StreamItem, None, str | None]:
        try:
            with rejoin(location, self._last_id) as response:
                return (yield from self._items(response))
        except UnreachableError as exc:  # not back yet
            return exc.message
        except ServerError as exc:
            if exc.status not in _NOT_BACK_YET:
                raise
            return exc.message

    def _items(self, response: httpx.Response) -> Generator[StreamItem, None, str | None]:
        """The items of `response`'s events: None once the reply has ended, else why the
        connection broke before."""
        try:
            with translated_errors(str(response.url)):
                for event in iter_sse(response.iter_lines()):
                    self._last_id = event.id or self._last_id
                    self._retry_ms = event.retry or self._retry_ms
                    item = self._item(event.event, _loads(event.data))
                    if item is not None:
                        yield item
                    if isinstance(item, Finished):
                        return None
        except UnreachableError as exc:
            return exc.message
        return _CUT

    def _item(self, name: str, data: Any) -> StreamItem | None:
        if name == "metadata":
            self.thread_id = data.get("thread_id", self.thread_id)
            self.run_id = data.get("run_id", self.run_id)
            self.model = data.get("model")
        elif name == "messages":
            return self._chunk(data[0])
        elif name == "end":
            usage = data.get("usage")
            return Finished(
                status=str(data.get("status", "success")),
                finish_reason=data.get("finish_reason"),
                usage=WireUsage.model_validate(usage) if usage else None,
                pending=data.get("pending"),
                thread_id=data.get("thread_id"),
                run_id=data.get("run_id"),
            )
        elif name == "error":
            error = data.get("error") or {}
            raise ServerError(
                f"the reply failed: {error.get('message', 'unknown error')}",
                code=error.get("code"),
            )
        return None

    def _chunk(self, chunk: dict[str, Any]) -> StreamItem | None:
        # Whole AI messages with tool calls repeat text already streamed as deltas.
        calls = chunk.get("tool_calls") or []
        if calls:
            return ToolCalled(", ".join(str(call.get("name")) for call in calls))
        content = chunk.get("content")
        if chunk.get("type") == "AIMessageChunk" and isinstance(content, str) and content:
            self.text.append(content)
            return Token(content)
        return None


def _loads(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise ServerError("the server sent an unreadable event") from None
