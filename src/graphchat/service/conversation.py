"""Conversations the caller holds (the OpenAI API): what to store of them, and where.

Such a caller sends its whole conversation on every turn. Bound to a thread, the thread gets only
the messages it lacks. What the caller saw of a stored turn is its input messages plus one
assistant message: the text of every reply of the run, and the tool calls left to the caller
(graphchat's own tool rounds stay inside the run).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from graphchat.json_text import dumps_text
from graphchat.llm.base import ChatMessage, ToolCall
from graphchat.service.agent_messages import agent_role, calls_from_json, to_new
from graphchat.service.turn_request import TurnRequest
from graphchat.store import Store
from graphchat.store.records import Message, MessageStatus, NewMessage

log = structlog.get_logger(__name__)

# Rows read to compare a bound thread with the caller's conversation: its tool rounds add rows.
_BIND_ROWS_PER_MESSAGE = 4
_BIND_ROWS_MIN = 16

_Call = tuple[str, str, str]
_Key = tuple[str, str, tuple[_Call, ...], str | None]


@dataclass(frozen=True, slots=True)
class Reply:
    """What the caller receives of a run: its text and the tool calls it must run."""

    content: str
    tool_calls: list[dict[str, Any]]
    finish_reason: str | None


def _is_output(message: Message) -> bool:
    """A message the run produced: inputs are stored before the model's first reply."""
    return message.role == "assistant" and (
        message.model is not None or message.status != MessageStatus.COMPLETE
    )


def reply_of(outputs: Sequence[Message]) -> Reply | None:
    """The caller's view of a run's outputs (None when the run produced no complete reply)."""
    replies = [m for m in outputs if m.role == "assistant" and m.status == MessageStatus.COMPLETE]
    if not replies:
        return None
    last = outputs[-1]
    # Calls answered inside the run were graphchat's; calls left open are the caller's.
    calls = (last.tool_calls or []) if last.role == "assistant" else []
    return Reply("".join(m.content for m in replies), list(calls), replies[-1].finish_reason)


def _key(role: str, content: str, calls: Iterable[_Call], tool_call_id: str | None) -> _Key:
    return (role, content.strip(), tuple(calls), tool_call_id if role == "tool" else None)


def _call(call_id: str, name: str, arguments: Any) -> _Call:
    return (call_id, name, dumps_text(arguments, sort_keys=True))


def _calls(calls: Iterable[ToolCall]) -> Iterable[_Call]:
    return (_call(c.id, c.name, c.arguments) for c in calls)


def _given_key(message: ChatMessage) -> _Key:
    return _key(message.role, message.content, _calls(message.tool_calls), message.tool_call_id)


def _stored_key(message: Message) -> _Key:
    """A stored input's key from its row: what `_given_key` makes of it as the agent sees it,
    without building that message (this runs for the whole conversation on every turn)."""
    calls = (_call(c["id"], c["name"], c.get("arguments") or {}) for c in message.tool_calls or ())
    return _key(agent_role(message.role), message.content, calls, message.tool_call_id)


def _seen(stored: Sequence[Message]) -> list[_Key]:
    """The stored thread as its caller saw it."""
    keys: list[_Key] = []
    for _, group in itertools.groupby(stored, key=operator.attrgetter("run_id")):
        run = list(group)
        first_output = next((i for i, m in enumerate(run) if _is_output(m)), len(run))
        keys.extend(_stored_key(message) for message in run[:first_output])
        reply = reply_of(run[first_output:])
        if reply is not None:
            calls = _calls(calls_from_json(reply.tool_calls))
            keys.append(_key("assistant", reply.content, calls, None))
    return keys


def new_tail(stored: Sequence[Message], given: Sequence[ChatMessage]) -> int | None:
    """Where `given` goes beyond the stored thread; None unless the thread is a prefix of it."""
    seen = _seen(stored)
    if len(seen) >= len(given):
        return None
    wanted = [_given_key(message) for message in given[: len(seen)]]
    return len(seen) if wanted == seen else None


def latest_turn(context: Sequence[ChatMessage]) -> Sequence[ChatMessage]:
    """The messages after the last assistant one: what the caller adds on this turn."""
    last = max((i for i, m in enumerate(context) if m.role == "assistant"), default=-1)
    return context[last + 1 :]


def to_store(messages: Iterable[ChatMessage]) -> tuple[NewMessage, ...]:
    """Caller messages as rows to append."""
    return tuple(to_new(message) for message in messages)


async def place_conversation(
    store: Store, request: TurnRequest, bind_to: str | None
) -> TurnRequest:
    """Where a caller-held conversation (`request.context`) is stored, and what of it.

    Unbound, a new thread gets its latest turn. Bound, the thread gets only the messages it
    lacks; a conversation that diverged from it goes whole to a new thread instead.
    """
    context = request.context or ()
    if bind_to is None:
        return replace(request, thread_id=None, messages=to_store(latest_turn(context)))
    limit = _BIND_ROWS_PER_MESSAGE * len(context) + _BIND_ROWS_MIN
    # One more than the limit: a branch longer than it diverged from any context that fits.
    # Nothing of a new thread, an empty one or another owner's (`begin_turn` refuses that one):
    # the whole conversation goes there, never compared with another owner's messages.
    stored = await store.messages.owned_branch(request.owner, bind_to, limit + 1)
    start = None if len(stored) > limit else new_tail(stored, context)
    if start is None:
        log.info("conversation_diverged", thread_id=bind_to)
        return replace(request, thread_id=None, messages=to_store(context))
    return replace(
        request,
        thread_id=bind_to,
        messages=to_store(context[start:]),
        after_seq=stored[-1].seq if stored else 0,
    )
