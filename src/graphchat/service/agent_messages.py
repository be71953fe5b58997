"""The one mapping between agent (model) messages and stored messages, both ways.

Stored tool calls are JSON objects `{"id", "name", "arguments"}`; the agent's are `ToolCall`s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args

from graphchat.llm.base import ChatMessage, Role, ToolCall
from graphchat.store.records import Message, NewMessage

_ROLES = frozenset(get_args(Role))


def calls_to_json(calls: Iterable[ToolCall]) -> list[dict[str, Any]] | None:
    """Tool calls as stored (None for none)."""
    stored = [{"id": call.id, "name": call.name, "arguments": call.arguments} for call in calls]
    return stored or None


def calls_from_json(stored: Iterable[dict[str, Any]] | None) -> tuple[ToolCall, ...]:
    if not stored:  # most messages: no generator to build and drain
        return ()
    return tuple(
        ToolCall(id=call["id"], name=call["name"], arguments=call.get("arguments") or {})
        for call in stored
    )


def agent_role(role: str) -> Role:
    """A stored role as the model sees it (an unknown role is the user's)."""
    return role if role in _ROLES else "user"  # type: ignore[return-value]


def to_agent(message: Message) -> ChatMessage:
    """A stored message as the model sees it."""
    return ChatMessage(
        role=agent_role(message.role),
        content=message.content,
        tool_calls=calls_from_json(message.tool_calls),
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


def to_new(message: ChatMessage, **fields: Any) -> NewMessage:
    """An agent message to append; `fields` adds what the store keeps beside it (model, usage…)."""
    return NewMessage(
        role=message.role,
        content=message.content,
        tool_calls=calls_to_json(message.tool_calls),
        tool_call_id=message.tool_call_id,
        name=message.name,
        **fields,
    )
