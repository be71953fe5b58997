"""Server-Sent Events: run events rendered per LangGraph stream mode, with ids and heartbeats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import cache
from typing import Any, Protocol
from urllib.parse import urlencode

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from graphchat.api.langgraph.shapes import ai_chunk
from graphchat.api.sse_response import LeanEventSourceResponse
from graphchat.json_text import dumps_text
from graphchat.service.events import RunEvent
from graphchat.service.payloads import message_payload
from graphchat.service.records import Message, Run
from graphchat.settings import Settings

# LangGraph's `messages-tuple` mode is called `messages` on the wire.
_MODE_ALIASES = {"messages-tuple": "messages"}
KNOWN_MODES = frozenset({"messages", "values", "updates"})
_LANGCHAIN_TYPES = {"user": "human", "assistant": "ai", "tool": "tool", "system": "system"}


def parse_stream_modes(requested: str | Iterable[str]) -> frozenset[str]:
    """The known modes among those requested (unknown ones are ignored, as LangGraph does)."""
    modes = [requested] if isinstance(requested, str) else list(requested)
    return frozenset(_MODE_ALIASES.get(mode, mode) for mode in modes) & KNOWN_MODES


def _typed(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": _LANGCHAIN_TYPES.get(message["role"], message["role"]), **message}


class StreamRenderer:
    """Renders one client's view of a run: the modes it asked for, `metadata` first, `end` last."""

    def __init__(
        self,
        modes: frozenset[str],
        retry_ms: int,
        input_messages: list[dict[str, Any]],
        shown_after: int = -1,
    ) -> None:
        self._modes = modes
        self._shown_after = shown_after  # a rejoin's Last-Event-ID: earlier events only build
        self._retry_ms = retry_ms
        # Only the `values` mode sends the whole conversation so far.
        self._values = [_typed(message) for message in input_messages] if "values" in modes else []
        self._meta: dict[str, Any] = {"langgraph_node": "agent"}

    def render(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        frames = self._frames(event)
        if event.seq > self._shown_after:
            return frames
        for _ in frames:  # not sent again, but the `values` list keeps what it carried
            pass
        return ()

    def _frames(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        if event.event == "metadata":
            self._meta = {
                **self._meta,
                "run_id": event.data["run_id"],
                "thread_id": event.data["thread_id"],
                "ls_model_name": event.data.get("model"),
            }
            yield self._sse(event, "metadata", event.data, retry=self._retry_ms)
        elif event.event == "token":
            if "messages" in self._modes:
                chunk = ai_chunk(event.data["message_id"], event.data["text"])
                yield self._sse(event, "messages", [chunk, self._meta])
        elif event.event == "message":
            yield from self._render_message(event)
        else:
            yield self._sse(event, event.event, event.data)

    def _render_message(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        message = _typed(event.data)
        if "values" in self._modes:
            self._values.append(message)
        if "messages" in self._modes and (message["role"] == "tool" or message["tool_calls"]):
            yield self._sse(event, "messages", [self._as_langchain(message), self._meta])
        if "updates" in self._modes:
            node = "tools" if message["role"] == "tool" else "agent"
            yield self._sse(event, "updates", {node: {"messages": [message]}})
        if "values" in self._modes:
            yield self._sse(event, "values", {"messages": self._values})

    @staticmethod
    def _as_langchain(message: dict[str, Any]) -> dict[str, Any]:
        if message["role"] == "tool":
            return {
                "type": "tool",
                "id": message["id"],
                "content": message["content"],
                "tool_call_id": message["tool_call_id"],
                "name": message["name"],
            }
        calls = [
            {"id": call["id"], "name": call["name"], "args": call["arguments"], "type": "tool_call"}
            for call in message["tool_calls"] or ()
        ]
        return ai_chunk(message["id"], message["content"], tool_calls=calls)

    @staticmethod
    def _sse(event: RunEvent, name: str, data: Any, retry: int | None = None) -> ServerSentEvent:
        return ServerSentEvent(data=dumps_text(data), event=name, id=str(event.seq), retry=retry)


class Renderer(Protocol):
    def render(self, event: RunEvent) -> Iterable[ServerSentEvent]: ...


async def follow_run(
    events: AsyncIterator[RunEvent],
    render: Callable[[RunEvent], Iterable[ServerSentEvent]],
    on_abandon: Callable[[], Awaitable[None]] | None,
    on_close: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """A run's events as frames; `on_abandon` runs if the client leaves before the end,
    `on_close` always."""
    finished = False
    try:
        async for event in events:
            finished = event.is_final
            for frame in render(event):
                yield frame
    finally:
        with anyio.CancelScope(shield=True):
            if not finished and on_abandon is not None:
                await on_abandon()
            if on_close is not None:
                await on_close()


def run_stream_response(
    run: Run,
    input_messages: list[Message],
    events: AsyncIterator[RunEvent],
    modes: frozenset[str],
    settings: Settings,
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    shown_after: int = -1,
) -> EventSourceResponse:
    """The SSE response for a run in graphchat's vocabulary; `on_abandon` runs if the client
    leaves before the end. A rejoin sends only the events after `shown_after`."""
    # Only the `values` mode sends the input messages.
    inputs = [message_payload(m) for m in input_messages] if "values" in modes else []
    renderer = StreamRenderer(modes, settings.limits.sse_retry_ms, inputs, shown_after)
    return event_stream_response(
        run, renderer, events, settings, on_abandon=on_abandon, rejoin_query=_rejoin_query(modes)
    )


@cache
def _rejoin_query(modes: frozenset[str]) -> str:
    """Where `Location` rejoins such a stream: in the same vocabulary and the same modes."""
    return urlencode([("vocabulary", "graphchat"), *(("stream_mode", m) for m in sorted(modes))])


def event_stream_response(
    run: Run,
    renderer: Renderer,
    events: AsyncIterator[RunEvent],
    settings: Settings,
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    on_close: Callable[[], Awaitable[None]] | None = None,
    rejoin_query: str = "",
) -> EventSourceResponse:
    """A run's events as SSE; `on_abandon` runs if the client leaves early, `on_close` always.
    `Location` rejoins the run, with `rejoin_query` when the stream is not LangGraph's."""
    base = f"/threads/{run.thread_id}/runs/{run.id}"
    rejoin = f"{base}/stream?{rejoin_query}" if rejoin_query else f"{base}/stream"
    return LeanEventSourceResponse(
        follow_run(events, renderer.render, on_abandon, on_close),
        ping=settings.limits.sse_heartbeat_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
        headers={
            "Cache-Control": "no-cache",
            "Content-Location": base,
            "Location": rejoin,
        },
        sep="\n",
    )
