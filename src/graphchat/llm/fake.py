"""A scripted `ChatProvider`: answers from a queue of replies and records every request.

For tests and demos that need a model in-process: no network, no vendor. (API tests use the real
Ollama provider against the Ollama-protocol test server instead.)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from graphchat.errors import GraphchatError
from graphchat.llm.base import ChatChunk, ChatRequest, ModelInfo, ToolCall, Usage

PROMPT_TOKENS = 3  # what every scripted reply reports as its prompt's size


@dataclass(frozen=True)
class ScriptedReply:
    """One scripted answer: `tokens` streamed a chunk each, then `calls`; or `error`, raised once
    `error_after` tokens have been streamed."""

    tokens: tuple[str, ...] = ("ok",)
    calls: tuple[ToolCall, ...] = ()
    error: GraphchatError | None = None
    error_after: int = 0


def tool_call(call_id: str, name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=dict(arguments))


@dataclass
class ScriptedProvider:
    """Each `stream` call takes the next reply (`ScriptedReply()` once the script is spent)."""

    name: str = "scripted"
    models: tuple[str, ...] = ("m",)
    replies: list[ScriptedReply] = field(default_factory=list)
    requests: list[ChatRequest] = field(default_factory=list)
    listing_error: GraphchatError | None = None  # raised by `list_models` and `check`
    available: bool = True

    def script(self, *replies: ScriptedReply) -> ScriptedProvider:
        self.replies.extend(replies)
        return self

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else ScriptedReply()
        for index, token in enumerate(reply.tokens):
            if reply.error is not None and index == reply.error_after:
                raise reply.error
            yield ChatChunk(content=token)
        if reply.error is not None:
            raise reply.error
        if reply.calls:
            yield ChatChunk(tool_calls=reply.calls)
        yield ChatChunk(
            done=True,
            finish_reason="tool_calls" if reply.calls else "stop",
            usage=Usage(PROMPT_TOKENS, len(reply.tokens)),
        )

    async def list_models(self) -> list[ModelInfo]:
        if self.listing_error is not None:
            raise self.listing_error
        return [ModelInfo(name, self.name, self.available) for name in self.models]

    async def check(self) -> None:
        if self.listing_error is not None:
            raise self.listing_error

    async def aclose(self) -> None:
        return None
