"""A run rendered as OpenAI sees it: a `chat.completion`, or `chat.completion.chunk` frames.

Frames carry no `id:` or `retry:` lines: the SDK's SSE decoder would then turn a later comment
(our heartbeat) into an empty event and fail to parse it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from graphchat.api.openai.errors import error_type
from graphchat.api.openai.schemas import (
    AssistantMessageOut,
    ChatCompletionOut,
    ChoiceOut,
    CompletionUsage,
    FunctionCallOut,
    ToolCallOut,
)
from graphchat.api.sse import follow_run
from graphchat.api.sse_response import LeanEventSourceResponse
from graphchat.json_text import dumps_text
from graphchat.service.conversation import reply_of
from graphchat.service.events import RunEvent
from graphchat.service.records import Run
from graphchat.service.runs import RunResult
from graphchat.settings import Settings

# Our finish reasons that OpenAI does not have: a stopped run simply stopped.
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}


def completion_id(run: Run) -> str:
    return f"chatcmpl-{run.id.replace('-', '')}"


def tool_calls_out(calls: list[dict[str, Any]]) -> list[ToolCallOut]:
    return [
        ToolCallOut(
            id=call["id"],
            function=FunctionCallOut(
                name=call["name"], arguments=dumps_text(call.get("arguments") or {})
            ),
        )
        for call in calls
    ]


def finish_reason(reason: str | None) -> str:
    return _FINISH.get(reason or "stop", "stop")


def completion(result: RunResult) -> ChatCompletionOut:
    """The non-streamed answer: every reply of the run, and the tool calls left to the caller."""
    run = result.run
    reply = reply_of(result.output_messages)
    calls = tool_calls_out(reply.tool_calls) if reply else []
    message = AssistantMessageOut(
        content=reply.content if reply and (reply.content or not calls) else None,
        tool_calls=calls or None,
    )
    replied_by = next((m.model for m in reversed(result.output_messages) if m.model), None)
    reason = finish_reason(reply.finish_reason if reply else None)
    return ChatCompletionOut(
        id=completion_id(run),
        created=int(run.created_at.timestamp()),
        model=replied_by or run.model or "",
        choices=[ChoiceOut(message=message, finish_reason=reason)],
        usage=CompletionUsage.model_validate(run.usage),
    )


class ChunkRenderer:
    """Turns run events into chunk documents; tool calls are shown only if the caller runs them."""

    def __init__(self, run: Run, *, include_usage: bool, client_tools: bool) -> None:
        self._base = {
            "id": completion_id(run),
            "object": "chat.completion.chunk",
            "created": int(run.created_at.timestamp()),
            "model": run.model or "",
        }
        self._include_usage = include_usage
        self._client_tools = client_tools
        self._calls = 0

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        chunk = {**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def render(self, event: RunEvent) -> list[dict[str, Any] | str]:
        data = event.data
        if event.event == "metadata":
            return [self._chunk({"role": "assistant", "content": ""})]
        if event.event == "token":
            return [self._chunk({"content": data["text"]})]
        if event.event == "message":
            return self._message(data)
        if event.event == "error":
            error = data.get("error") or {}
            body = {"message": error.get("message"), "type": error_type(500)}
            return [{"error": {**body, "param": None, "code": error.get("code")}}]
        frames: list[dict[str, Any] | str] = [self._chunk({}, finish_reason(data["finish_reason"]))]
        if self._include_usage:
            frames.append({**self._base, "choices": [], "usage": data["usage"]})
        return [*frames, "[DONE]"]

    def _message(self, data: dict[str, Any]) -> list[dict[str, Any] | str]:
        if not (self._client_tools and data["role"] == "assistant" and data["tool_calls"]):
            return []
        deltas = []
        for call in tool_calls_out(data["tool_calls"]):
            deltas.append({"index": self._calls, **call.model_dump()})
            self._calls += 1
        return [self._chunk({"tool_calls": deltas})]


def chunk_stream(
    events: AsyncIterator[RunEvent],
    renderer: ChunkRenderer,
    settings: Settings,
    *,
    on_abandon: Callable[[], Awaitable[None]],
    headers: dict[str, str],
) -> EventSourceResponse:
    """The SSE response; `on_abandon` runs when the client leaves before the end."""

    def render(event: RunEvent) -> list[ServerSentEvent]:
        return [
            ServerSentEvent(data=frame if isinstance(frame, str) else dumps_text(frame))
            for frame in renderer.render(event)
        ]

    # The same frames and heartbeats as sse-starlette's response, with one task per stream less.
    return LeanEventSourceResponse(
        follow_run(events, render, on_abandon),
        ping=settings.limits.sse_heartbeat_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
        headers={"Cache-Control": "no-cache", **headers},
        sep="\n",
    )
