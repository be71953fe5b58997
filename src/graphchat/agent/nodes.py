"""Graph nodes, named by what they do. They talk to the model only through a `ChatProvider`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from contextlib import aclosing
from dataclasses import replace
from typing import Any, Protocol

import structlog
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command

from graphchat.agent.state import (
    AgentState,
    ApprovalRequest,
    ModelReply,
    RunContext,
    RunEvents,
    ToolResult,
)
from graphchat.agent.tools.approval import align_decisions, calls_to_review
from graphchat.agent.tools.execute import run_calls
from graphchat.agent.tools.registry import ToolRegistry
from graphchat.errors import ContextTooLong, ToolsUnsupported
from graphchat.llm.base import ChatChunk, ChatMessage, ChatProvider, ChatRequest, ToolCall, Usage

log = structlog.get_logger(__name__)

# Node names follow LangGraph's prebuilt agent, which clients' `updates` handlers expect.
AGENT_NODE = "agent"
TOOLS_NODE = "tools"
REVIEW_NODE = "review"


class Node(Protocol):
    """A graph node as LangGraph calls it: the state, and the run's runtime by keyword."""

    def __call__(
        self, state: AgentState, *, runtime: Runtime[RunContext]
    ) -> Awaitable[dict[str, Any] | Command[str]]: ...


def make_call_model(provider: ChatProvider) -> Node:
    """The agent node: stream one model reply, emitting tokens as they come, then go to the
    tools, a person's review or the end. It routes itself (a `Command`): a conditional edge is
    one more runnable, task and callback run per step (`python -m bench.graph_cost`)."""

    async def call_model(state: AgentState, *, runtime: Runtime[RunContext]) -> Command[str]:
        context = runtime.context
        early = context.before_stored
        if early is not None and not early.ask_ahead:
            early.about_to_wait()
            await early.stored  # nothing leaves the process for a run that is not stored
        if state.get("decisions"):  # a resumed run: the tools apply the person's decisions
            return Command(goto=TOOLS_NODE)
        request = agent_request(state, context)
        started = _asked_at(request, context)
        request, (text, calls, last) = await _answer(provider, request, runtime)
        # Calls to tools that were not offered would never be answered: drop them.
        calls = calls if request.tools else ()
        finish_reason = last.finish_reason or "stop"
        if finish_reason == "tool_calls" and not calls:
            finish_reason = "stop"
        message = ChatMessage(role="assistant", content=text, tool_calls=calls)
        goto = _after_reply(calls, context)
        await runtime.context.events.event(
            ModelReply(
                message=message,
                model=last.model or context.model,  # a fallback model may have answered
                finish_reason=finish_reason,
                usage=last.usage or Usage(),
                latency_ms=(time.perf_counter() - started) * 1000,
                cached=last.cached,
                last=goto == END,
            ),
        )
        return Command(update={"messages": [message]}, goto=goto)

    return call_model


def _asked_at(request: ChatRequest, context: RunContext) -> float:
    """When `request` is asked: now, or before LangGraph set the run up if it was opened then."""
    ahead = context.opened.asked_at(request) if context.opened is not None else None
    return time.perf_counter() if ahead is None else ahead


def agent_request(state: AgentState, context: RunContext) -> ChatRequest:
    """What the agent node asks the model in `state`."""
    # Past the round limit the model gets no tools, so it has to answer in text.
    rounds_left = state.get("tool_rounds", 0) < context.max_tool_rounds
    return ChatRequest(
        model=context.model,
        messages=tuple(state["messages"]),
        params=context.params,
        tools=context.tools if rounds_left else (),
        tool_choice=context.tool_choice,
        response_format=context.response_format,
    )


def _after_reply(calls: tuple[ToolCall, ...], context: RunContext) -> str:
    """The tools when the model asks for tools, the review when a call needs approval first."""
    if not calls or not context.run_tools:  # the caller runs its own tools
        return END
    return REVIEW_NODE if calls_to_review(calls, context.require_approval) else TOOLS_NODE


def make_run_tools(registry: ToolRegistry) -> Node:
    """The tools node: run the last assistant message's tool calls, emitting each result."""

    async def run_tools(state: AgentState, *, runtime: Runtime[RunContext]) -> dict[str, Any]:
        context = runtime.context
        calls = state["messages"][-1].tool_calls
        offered = [spec.name for spec in context.tools]
        outcomes = await run_calls(
            calls,
            registry,
            offered,
            context.tool_context,
            context.tool_timeout,
            align_decisions(calls, context.require_approval, state.get("decisions", ())),
        )
        for outcome in outcomes:
            await runtime.context.events.event(
                ToolResult(message=outcome.message, is_error=outcome.is_error)
            )
        return {
            "messages": [outcome.message for outcome in outcomes],
            "tool_rounds": state.get("tool_rounds", 0) + 1,
            "decisions": (),
        }

    return run_tools


async def request_approval(state: AgentState, *, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The review node: announce the calls that wait for a person; the run ends paused."""
    pending = calls_to_review(state["messages"][-1].tool_calls, runtime.context.require_approval)
    await runtime.context.events.event(
        ApprovalRequest(calls=pending, tool_rounds=state.get("tool_rounds", 0))
    )
    return {}


async def _answer(
    provider: ChatProvider, request: ChatRequest, runtime: Runtime[RunContext]
) -> tuple[ChatRequest, tuple[str, tuple[Any, ...], ChatChunk]]:
    """The reply and the request that got it: asked again without tools when the model takes
    none, and without the older half of the conversation while it outgrows the model's context
    window (an OpenAI-compatible server refuses it; Ollama and the embedded model cut it
    themselves). Both are refused before the first token."""
    while True:
        try:
            return request, await _stream_reply(provider, request, runtime)
        except ToolsUnsupported:
            if not request.tools:
                raise
            request = replace(request, tools=())
        except ContextTooLong as exc:
            shorter = without_older_half(request.messages)
            if shorter is None or exc.newest_too_long:
                raise
            log.warning("model_context_exceeded", sent=len(request.messages), kept=len(shorter))
            request = replace(request, messages=shorter)


def without_older_half(messages: tuple[ChatMessage, ...]) -> tuple[ChatMessage, ...] | None:
    """The system prompt and the newer half of the rest; None when only the newest is left.
    A tool result whose call was dropped goes too: the model never sees an answer to a
    question it cannot see."""
    system = tuple(m for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if len(rest) <= 1:
        return None
    kept = rest[len(rest) // 2 :]
    while len(kept) > 1 and kept[0].role == "tool":
        kept.pop(0)
    return (*system, *kept)


async def _stream_reply(
    provider: ChatProvider, request: ChatRequest, runtime: Runtime[RunContext]
) -> tuple[str, tuple[Any, ...], ChatChunk]:
    parts: list[str] = []
    calls: list[Any] = []
    last = ChatChunk(done=True)
    events = runtime.context.events
    early = runtime.context.before_stored
    # Asked before the run was stored: its reply is read meanwhile, but its text and its failure
    # go on only once the run is stored (read now, the reply's lines are off the path from the
    # stored run to its finish).
    held = early.stored if early is not None and early.ask_ahead else None
    unheld: list[str] = []  # text read before the run was stored
    opened = runtime.context.opened
    sent = opened.take(request) if opened is not None else None
    told = sent is not None and opened is not None and opened.told  # its first text went out
    # Closed at once, not when collected: a run dropped before it was stored ends its request.
    async with aclosing(sent or provider.stream(request)) as chunks:
        if early is not None:
            early.about_to_wait()  # the request leaves in this step (on a kept connection)
        try:
            async for chunk in chunks:
                if held is not None and held.done():
                    await _released(held, events, unheld)
                    held = None
                if chunk.content:
                    parts.append(chunk.content)
                    if told:
                        told = False
                    elif held is not None:
                        unheld.append(chunk.content)
                    else:
                        events.token(chunk.content)
                calls.extend(chunk.tool_calls)
                last = chunk
        except Exception:
            if held is not None:
                await _released(held, events, unheld)
            raise
        if held is not None:
            await _released(held, events, unheld)
    return "".join(parts), tuple(calls), last


async def _released(held: asyncio.Future[None], events: RunEvents, unheld: list[str]) -> None:
    """Once the run is stored, the text read before it went out."""
    await held
    for text in unheld:
        events.token(text)
    unheld.clear()
