"""Server-Sent Events: run events rendered per LangGraph stream mode, with ids and heartbeats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
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
    ) -> None:
        self._modes = modes
        self._retry_ms = retry_ms
        # Only the `values` mode sends the whole conversation so far.
        self._values = [_typed(message) for message in input_messages] if "values" in modes else []
        self._meta: dict[str, Any] = {"langgraph_node": "agent"}

    def render(self, event: RunEvent) -> Iterable[ServerSentEvent]:
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


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a client's stream stopped, from its `Last-Event-ID`: every event up to `after`
    received, and the first `frames_seen` frames of the next one.

    One event can be several frames (a message in `messages`, `updates` and `values`). Each frame
    but an event's last carries `<seq>.<index>` as its id, the last the event's own `<seq>`, so
    a client cut off between two frames of one event rejoins at the next frame: none is lost,
    none sent twice."""

    after: int = -1
    frames_seen: int = 0

    @classmethod
    def parse(cls, last_event_id: str) -> StreamPosition:
        """From an id this server sent (`-1`: before the first event); ValueError if not one."""
        seq, dot, index = last_event_id.partition(".")
        if not dot:
            return cls(int(seq))
        return cls(int(seq) - 1, int(index) + 1)

    def unseen(self, seq: int, frames: list[ServerSentEvent]) -> list[ServerSentEvent]:
        """Which of event `seq`'s frames the client has yet to get."""
        if seq <= self.after:
            return []
        return frames[self.frames_seen :] if seq == self.after + 1 else frames


async def follow_run(
    events: AsyncIterator[RunEvent],
    render: Callable[[RunEvent], Iterable[ServerSentEvent]],
    on_abandon: Callable[[], Awaitable[None]] | None,
    on_close: Callable[[], Awaitable[None]] | None = None,
    resumed: StreamPosition = StreamPosition(),
) -> AsyncIterator[ServerSentEvent]:
    """A run's events as frames, each with its id (`StreamPosition`); `on_abandon` runs if the
    client leaves before the end, `on_close` always. A rejoin is sent the frames after
    `resumed`, but renders every event from the run's first: what a frame carries (the
    `values` list, the run's metadata, a message's text so far) builds on those before it, so
    the frames it sends are the ones the stream it rejoins sent."""
    finished = False
    try:
        async for event in events:
            finished = event.is_final
            for frame in resumed.unseen(event.seq, _numbered(event.seq, list(render(event)))):
                yield frame
    finally:
        with anyio.CancelScope(shield=True):
            if not finished and on_abandon is not None:
                await on_abandon()
            if on_close is not None:
                await on_close()


def _numbered(seq: int, frames: list[ServerSentEvent]) -> list[ServerSentEvent]:
    """An event's frames, each before its last numbered within it (frames without an id, as
    the OpenAI API's, are left so)."""
    for index in range(len(frames) - 1):  # most events are one frame: no loop, no copy
        if frames[index].id is not None:
            frames[index].id = f"{seq}.{index}"
    return frames


def run_stream_response(
    run: Run,
    input_messages: list[Message],
    events: AsyncIterator[RunEvent],
    modes: frozenset[str],
    settings: Settings,
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    resumed: StreamPosition = StreamPosition(),
) -> EventSourceResponse:
    """The SSE response for a run in graphchat's vocabulary; `on_abandon` runs if the client
    leaves before the end. A rejoin sends only what follows `resumed`."""
    # Only the `values` mode sends the input messages.
    inputs = [message_payload(m) for m in input_messages] if "values" in modes else []
    renderer = StreamRenderer(modes, settings.limits.sse_retry_ms, inputs)
    return event_stream_response(
        run,
        renderer,
        events,
        settings,
        on_abandon=on_abandon,
        rejoin_query=_rejoin_query(modes),
        resumed=resumed,
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
    resumed: StreamPosition = StreamPosition(),
) -> EventSourceResponse:
    """A run's events as SSE; `on_abandon` runs if the client leaves early, `on_close` always.
    `Location` rejoins the run, with `rejoin_query` when the stream is not LangGraph's; a
    rejoin starts after `resumed`."""
    base = f"/threads/{run.thread_id}/runs/{run.id}"
    rejoin = f"{base}/stream?{rejoin_query}" if rejoin_query else f"{base}/stream"
    return LeanEventSourceResponse(
        follow_run(events, renderer.render, on_abandon, on_close, resumed),
        ping=settings.limits.sse_heartbeat_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
        headers={
            "Cache-Control": "no-cache",
            "Content-Location": base,
            "Location": rejoin,
        },
        sep="\n",
    )
