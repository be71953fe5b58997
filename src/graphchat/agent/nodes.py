"""Graph nodes, named by what they do. They talk to the model only through a `ChatProvider`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from graphchat.agent.state import AgentState, ModelReply, RunContext, TokenDelta
from graphchat.errors import ToolsUnsupported
from graphchat.llm.base import ChatChunk, ChatMessage, ChatProvider, ChatRequest, Usage

Node = Callable[[AgentState, Runtime[RunContext]], Awaitable[dict[str, Any]]]


def make_call_model(provider: ChatProvider) -> Node:
    """The agent node: stream one model reply, emitting tokens as they come."""

    async def call_model(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        context = runtime.context
        request = ChatRequest(
            model=context.model,
            messages=tuple(state["messages"]),
            params=context.params,
            tools=context.tools,
        )
        started = time.perf_counter()
        try:
            reply = await _stream_reply(provider, request, runtime)
        except ToolsUnsupported:
            if not request.tools:
                raise
            request = ChatRequest(model=request.model, messages=request.messages, params=request.params)
            reply = await _stream_reply(provider, request, runtime)
        text, calls, last = reply
        message = ChatMessage(role="assistant", content=text, tool_calls=calls)
        runtime.stream_writer(
            ModelReply(
                message=message,
                model=last.model or context.model,  # a fallback model may have answered
                finish_reason=last.finish_reason or "stop",
                usage=last.usage or Usage(),
                latency_ms=(time.perf_counter() - started) * 1000,
                cached=last.cached,
            )
        )
        return {"messages": [message], "model_calls": state.get("model_calls", 0) + 1}

    return call_model


async def _stream_reply(
    provider: ChatProvider, request: ChatRequest, runtime: Runtime[RunContext]
) -> tuple[str, tuple[Any, ...], ChatChunk]:
    parts: list[str] = []
    calls: list[Any] = []
    last = ChatChunk(done=True)
    async for chunk in provider.stream(request):
        if chunk.content:
            parts.append(chunk.content)
            runtime.stream_writer(TokenDelta(chunk.content))
        calls.extend(chunk.tool_calls)
        last = chunk
    return "".join(parts), tuple(calls), last
