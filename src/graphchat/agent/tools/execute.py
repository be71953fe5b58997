"""Running the tool calls of one assistant message: concurrently, each with a time limit.

Every call yields a tool message, in the order of the calls; failures (unknown tool, bad
arguments, exceptions, timeouts) become error messages the model reads, never a failed run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import structlog

from graphchat.agent.tools.approval import Decision, rejection_text
from graphchat.agent.tools.base import ToolContext, ToolError
from graphchat.agent.tools.registry import ToolRegistry
from graphchat.json_text import dumps_text
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
    text = value if isinstance(value, str) else dumps_text(value, default=str)
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


async def _run_reviewed(
    call: ToolCall,
    decision: Decision | None,
    registry: ToolRegistry,
    offered: Collection[str],
    context: ToolContext,
    time_limit: float,
) -> CallOutcome:
    """A call as a person decided: refused, run as asked, or run with their arguments."""
    if decision is not None and decision.type == "reject":
        return CallOutcome(_tool_message(call, rejection_text(decision)), is_error=True)
    if decision is None or decision.type != "edit":
        return await run_call(call, registry, offered, context, time_limit)
    outcome = await run_call(
        replace(call, arguments=decision.args), registry, offered, context, time_limit
    )
    # The stored call keeps the model's arguments (the log is append-only): say what ran.
    note = f"[run with arguments edited by the user: {_as_text(decision.args)}]\n"
    return CallOutcome(_tool_message(call, note + outcome.message.content), outcome.is_error)


async def run_calls(
    calls: Sequence[ToolCall],
    registry: ToolRegistry,
    offered: Collection[str],
    context: ToolContext,
    time_limit: float,
    decisions: Sequence[Decision | None] = (),
) -> list[CallOutcome]:
    """All calls of one assistant message, run concurrently, results in call order.

    `decisions`, by position, are a person's answers to the calls that waited for approval.
    """
    admitted, refused = calls[:MAX_CALLS_PER_MESSAGE], calls[MAX_CALLS_PER_MESSAGE:]
    decided = [*decisions, *[None] * (len(admitted) - len(decisions))]
    outcomes = list(
        await asyncio.gather(
            *(
                _run_reviewed(call, decision, registry, offered, context, time_limit)
                for call, decision in zip(admitted, decided, strict=False)
            )
        )
    )
    text = f"Error: at most {MAX_CALLS_PER_MESSAGE} tool calls are run per message"
    outcomes.extend(CallOutcome(_tool_message(call, text), is_error=True) for call in refused)
    return outcomes


def _tool_message(call: ToolCall, content: str) -> ChatMessage:
    return ChatMessage(role="tool", content=content, tool_call_id=call.id, name=call.name)
