"""A scripted `ChatProvider` for unit tests of the graph: queued replies, recorded requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graphchat.errors import GraphchatError
from graphchat.llm.base import ChatChunk, ChatRequest, ModelInfo, ToolCall, Usage


@dataclass
class Scripted:
    """One reply: text and/or tool calls, or an error raised before any chunk."""

    text: str = ""
    calls: tuple[ToolCall, ...] = ()
    error: GraphchatError | None = None


@dataclass
class ScriptedProvider:
    replies: list[Scripted] = field(default_factory=list)
    requests: list[ChatRequest] = field(default_factory=list)
    name: str = "scripted"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else Scripted(text="done")
        if reply.error is not None:
            raise reply.error
        if reply.text:
            yield ChatChunk(content=reply.text)
        if reply.calls:
            yield ChatChunk(tool_calls=reply.calls)
        yield ChatChunk(
            done=True,
            finish_reason="tool_calls" if reply.calls else "stop",
            usage=Usage(prompt_tokens=3, completion_tokens=2),
        )

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(name="m", backend=self.name)]

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def call(call_id: str, name: str, **arguments: object) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=dict(arguments))
