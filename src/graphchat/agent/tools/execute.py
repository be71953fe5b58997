"""Running the tool calls of one assistant message: concurrently, each with a time limit.

Every call yields a tool message, in the order of the calls; failures (unknown tool, bad
arguments, exceptions, timeouts) become error messages the model reads, never a failed run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import orjson
import structlog

from graphchat.agent.tools.base import ToolContext, ToolError
from graphchat.agent.tools.registry import ToolRegistry
from graphchat.llm.base import ChatMessage, ToolCall

log = structlog.get_logger(__name__)

MAX_RESULT_CHARS = 16_000
MAX_ERROR_CHARS = 500
MAX_CALLS_PER_MESSAGE = 16


@dataclass(frozen=True, slots=True)
class CallOutcome:
    message: ChatMessage
    is_error: bool


def _as_text(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if len(text) > MAX_RESULT_CHARS:
        return text[:MAX_RESULT_CHARS] + f"… [truncated to {MAX_RESULT_CHARS} characters]"
    return text


def _failure_text(name: str, exc: BaseException, time_limit: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"Error: tool '{name}' did not finish within {time_limit:g} s"
    if isinstance(exc, ToolError):
        return f"Error: {exc}"[:MAX_ERROR_CHARS]
    return f"Error: tool '{name}' failed: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


async def run_call(
    call: ToolCall,
    registry: ToolRegistry,
    offered: Collection[str],
    context: ToolContext,
    time_limit: float,
) -> CallOutcome:
    """One call's tool message; only tools offered on this run may run."""
    tool = registry.get(call.name) if call.name in offered else None
    if tool is None:
        text = f"Error: no tool named '{call.name}'; available: {', '.join(offered) or 'none'}"
        return CallOutcome(_tool_message(call, text), is_error=True)
    try:
        result = await asyncio.wait_for(tool.run(dict(call.arguments), context), time_limit)
        return CallOutcome(_tool_message(call, _as_text(result)), is_error=False)
    except Exception as exc:  # any tool failure is reported to the model, not raised
        if not isinstance(exc, ToolError | TimeoutError):
            log.warning("tool_failed", tool=call.name, error=repr(exc))
        return CallOutcome(_tool_message(call, _failure_text(call.name, exc, time_limit)), True)


async def run_calls(
    calls: Sequence[ToolCall],
    registry: ToolRegistry,
    offered: Collection[str],
    context: ToolContext,
    time_limit: float,
) -> list[CallOutcome]:
    """All calls of one assistant message, run concurrently, results in call order."""
    admitted, refused = calls[:MAX_CALLS_PER_MESSAGE], calls[MAX_CALLS_PER_MESSAGE:]
    outcomes = list(
        await asyncio.gather(
            *(run_call(call, registry, offered, context, time_limit) for call in admitted)
        )
    )
    text = f"Error: at most {MAX_CALLS_PER_MESSAGE} tool calls are run per message"
    outcomes.extend(CallOutcome(_tool_message(call, text), is_error=True) for call in refused)
    return outcomes


def _tool_message(call: ToolCall, content: str) -> ChatMessage:
    return ChatMessage(role="tool", content=content, tool_call_id=call.id, name=call.name)
