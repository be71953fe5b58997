"""A run's events as the LangGraph server streams them, per stream mode.

`values` carries the whole thread (at most `VALUES_MAX_MESSAGES` of its latest messages);
`messages-tuple` (`messages` on the wire) sends token chunks that share their message's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sse_starlette import ServerSentEvent

from graphchat.api.langgraph.shapes import (
    INTERRUPT_KEY,
    ai_chunk,
    interrupt,
    langchain_message,
    langchain_messages,
    run_status_named,
)
from graphchat.json_text import dumps_text
from graphchat.service.events import RunEvent
from graphchat.service.records import Message
from graphchat.service.thread_state import VALUES_MAX_MESSAGES

KNOWN_MODES = frozenset({"values", "updates", "messages-tuple", "messages", "custom", "events"})


def stream_modes(requested: Iterable[str], *, legacy_messages: bool) -> frozenset[str]:
    """The known modes among those requested; empty or unknown ones are ignored.

    `legacy_messages` False reads `messages` as `messages-tuple` (graphchat's native meaning).
    """
    modes = {mode for mode in requested if mode}
    if not legacy_messages and "messages" in modes:
        modes = (modes - {"messages"}) | {"messages-tuple"}
    return frozenset(modes & KNOWN_MODES or {"values"})


class LangGraphRenderer:
    """One client's view of a run: `metadata` first, then its modes' events, `end` last."""

    def __init__(self, modes: frozenset[str], retry_ms: int, history: list[Message]) -> None:
        self._modes = modes
        self._retry_ms = retry_ms
        self._values = langchain_messages(history)
        self._meta: dict[str, Any] = {"langgraph_node": "agent", "tags": []}
        self._texts: dict[str, str] = {}  # streamed text so far, per message id

    def render(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        if event.event == "metadata":
            data = event.data
            self._meta.update(
                run_id=data["run_id"], thread_id=data["thread_id"], ls_model_name=data.get("model")
            )
            yield self._sse(event, "metadata", {"run_id": data["run_id"], "attempt": 1})
            if "values" in self._modes:
                yield self._sse(event, "values", {"messages": self._values})
        elif event.event == "token":
            yield from self._render_token(event)
        elif event.event == "message":
            yield from self._render_message(event)
        elif event.event == "error":
            error = event.data.get("error", {})
            body = {"error": error.get("code", "error"), "message": error.get("message", "")}
            yield self._sse(event, "error", body)
        else:
            yield from self._render_end(event)

    def _render_token(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        message_id, text = event.data["message_id"], event.data["text"]
        first = message_id not in self._texts
        self._texts[message_id] = self._texts.get(message_id, "") + text
        chunk = ai_chunk(message_id, text)
        if "messages-tuple" in self._modes:
            yield self._sse(event, "messages", [chunk, self._meta])
        if "messages" in self._modes:
            if first:
                yield self._sse(event, "messages/metadata", {message_id: {"metadata": self._meta}})
            so_far = ai_chunk(message_id, self._texts[message_id], type="ai")
            yield self._sse(event, "messages/partial", [so_far])
        if "events" in self._modes:
            body = {"event": "on_chat_model_stream", "name": "agent", "data": {"chunk": chunk}}
            yield self._sse(event, "events", {**body, "run_id": self._meta.get("run_id")})

    def _render_message(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        message = langchain_message(event.data)
        self._values = [*self._values, message][-VALUES_MAX_MESSAGES:]
        if "messages-tuple" in self._modes and message["id"] not in self._texts:
            # Not streamed token by token (tool results, tool calls, cached replies): whole.
            whole = {**message, "type": "tool"} if message["type"] == "tool" else message
            yield self._sse(event, "messages", [whole, self._meta])
        if "messages" in self._modes:
            yield self._sse(event, "messages/complete", [message])
        if "updates" in self._modes:
            node = "tools" if message["type"] == "tool" else "agent"
            yield self._sse(event, "updates", {node: {"messages": [message]}})
        if "values" in self._modes:
            yield self._sse(event, "values", {"messages": self._values})

    def _render_end(self, event: RunEvent) -> Iterable[ServerSentEvent]:
        """The run's end; a pause first shows its interrupt in `updates` and `values`, as
        LangGraph does (a `values` payload with `__interrupt__` is merged, not replaced)."""
        status = event.data.get("status")
        pending = event.data.get("pending")
        if pending:
            found = {INTERRUPT_KEY: [interrupt(pending)]}
            if "updates" in self._modes:
                yield self._sse(event, "updates", found)
            if "values" in self._modes:
                yield self._sse(event, "values", found)
        yield self._sse(event, "end", {"status": run_status_named(status)})

    def _sse(
        self, event: RunEvent, name: str, data: Any, retry: int | None = None
    ) -> ServerSentEvent:
        retry = self._retry_ms if event.event == "metadata" and name == "metadata" else retry
        return ServerSentEvent(data=dumps_text(data), event=name, id=str(event.seq), retry=retry)
