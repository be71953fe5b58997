"""graphchat records in the JSON shapes of the LangGraph server API and of LangChain messages."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from graphchat.api.langgraph.schemas import AssistantOut
from graphchat.errors import NotFound
from graphchat.service.approvals import hitl_request, pending_of
from graphchat.service.converted import ConvertedMessages
from graphchat.service.payloads import message_payload
from graphchat.service.records import Message, Run, RunStatus
from graphchat.service.thread_state import State, checkpoint_id

GRAPH_ID = "agent"
# The id LangGraph servers give a graph's default assistant: uuid5(their namespace, graph id).
ASSISTANT_ID = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), GRAPH_ID))
_EPOCH = "2026-01-01T00:00:00+00:00"
_TYPES = {"user": "human", "assistant": "ai", "tool": "tool", "system": "system"}
# graphchat's `cancelled` (stopped by a caller) and `requires_action` (paused for approval)
# are both LangGraph's `interrupted`; `graphchat_status` keeps them apart.
_RUN_STATUSES = {RunStatus.CANCELLED: "interrupted", RunStatus.REQUIRES_ACTION: "interrupted"}
INTERRUPT_KEY = "__interrupt__"


def assistant() -> AssistantOut:
    return AssistantOut(
        assistant_id=ASSISTANT_ID,
        graph_id=GRAPH_ID,
        name=GRAPH_ID,
        description="graphchat's chat agent",
        config={},
        context={},
        metadata={"created_by": "system"},
        version=1,
        created_at=_EPOCH,
        updated_at=_EPOCH,
    )


def resolve_assistant(assistant_id: str) -> AssistantOut:
    """The one assistant, by its id or by its graph's name."""
    if assistant_id not in (ASSISTANT_ID, GRAPH_ID):
        raise NotFound(
            f"assistant '{assistant_id[:200]}' was not found (this server has '{GRAPH_ID}')",
            code="assistant_not_found",
        )
    return assistant()


def run_status(status: RunStatus) -> str:
    return _RUN_STATUSES.get(status, status.value)


def run_status_named(name: object) -> object:
    """`run_status` of a status carried by name (an event's), anything else as it is."""
    try:
        return run_status(RunStatus(str(name)))
    except ValueError:
        return name


def ai_chunk(message_id: str, content: str, **extra: Any) -> dict[str, Any]:
    """A serialized LangChain AI message chunk, the shape LangGraph SDK clients concatenate."""
    return {
        "type": "AIMessageChunk",
        "id": message_id,
        "content": content,
        "additional_kwargs": {},
        "response_metadata": {},
        "tool_calls": [],
        "tool_call_chunks": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
        "name": None,
        **extra,
    }


def _tool_calls(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": call["name"], "args": call["arguments"], "id": call["id"], "type": "tool_call"}
        for call in payload.get("tool_calls") or ()
    ]


def _usage(payload: dict[str, Any]) -> dict[str, int] | None:
    usage = payload.get("usage")
    if not usage:
        return None
    return {
        "input_tokens": usage["prompt_tokens"],
        "output_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
    }


def langchain_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored message (its JSON payload) as a serialized LangChain message."""
    role = payload["role"]
    message: dict[str, Any] = {
        "type": _TYPES.get(role, role),
        "id": payload["id"],
        "content": payload["content"],
        "additional_kwargs": {},
        "response_metadata": {},
        "name": payload.get("name"),
    }
    if role == "assistant":
        message["response_metadata"] = {
            "model_name": payload.get("model"),
            "finish_reason": payload.get("finish_reason"),
            "status": payload.get("status"),
        }
        message["tool_calls"] = _tool_calls(payload)
        message["invalid_tool_calls"] = []
        message["usage_metadata"] = _usage(payload)
    elif role == "tool":
        message["tool_call_id"] = payload.get("tool_call_id")
        message["status"] = "error" if payload.get("status") == "error" else "success"
    return message


def _stored_form(message: Message) -> dict[str, Any]:
    return langchain_message(message_payload(message))


# Each stored record's form, converted once while kept: a turn's window (store/window_cache.py)
# holds the same records turn after turn, and a state or a history page reads the thread's
# messages again, equal to the kept records. A `values` stream starts with up to 200 messages,
# a history page of ten states carries up to 200 each; converting 200 took ~1 ms.
_KEPT_FORMS = ConvertedMessages(_stored_form)


def langchain_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """`messages` as serialized LangChain messages, shared: no caller may change them."""
    return [_KEPT_FORMS.of(message) for message in messages]


def _checkpoint(thread_id: str, seq: int | None) -> dict[str, Any]:
    """A `ThreadCheckpoint`, as its model writes it."""
    return {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": checkpoint_id(seq) if seq is not None else None,
        "checkpoint_map": None,
    }


def interrupt(pending: dict[str, Any]) -> dict[str, Any]:
    """A pause (`pending_of` view) as a LangGraph `Interrupt` carrying LangChain's HITL request.

    Its id is the id of the model message that asked for the calls: one per pause.
    """
    return {"value": hitl_request(pending), "id": pending["message_id"]}


def run_interrupts(run: Run | None) -> list[dict[str, Any]]:
    """The interrupts a run waits on: one while paused, none otherwise."""
    pending = pending_of(run) if run is not None else None
    return [interrupt(pending)] if pending is not None else []


def thread_interrupts(paused: Run | None) -> dict[str, list[dict[str, Any]]]:
    """A thread's `interrupts`: by task id (the paused run's id), as LangGraph threads carry."""
    found = run_interrupts(paused)
    return {paused.id: found} if paused is not None and found else {}


def _tasks(paused: Run | None) -> list[dict[str, Any]]:
    found = run_interrupts(paused)
    if paused is None or not found:
        return []
    return [
        {
            "id": paused.id,
            "name": "tools",
            "path": ["__pregel_pull", "tools"],
            "error": None,
            "interrupts": found,
            "checkpoint": None,
            "state": None,
            "result": None,
        }
    ]


def thread_state(thread_id: str, state: State, paused: Run | None = None) -> dict[str, Any]:
    """One state, as `ThreadStateOut` writes it (the routes answer it through `JsonText`);
    `paused` (the thread's run waiting for approval) makes it the pause's state, with the
    pending `tools` task and its interrupt, where agent-chat-ui looks after a reload."""
    tasks = _tasks(paused)
    parent = state.parent_seq
    return {
        "values": {"messages": langchain_messages(state.messages)},
        "next": ["tools"] if tasks else state.next,
        "checkpoint": _checkpoint(thread_id, state.seq),
        "metadata": {"source": state.source, "step": state.step, "graph_id": GRAPH_ID},
        "created_at": state.created_at.isoformat() if state.created_at else None,
        "parent_checkpoint": _checkpoint(thread_id, parent) if parent is not None else None,
        "tasks": tasks,
        "interrupts": tasks[0]["interrupts"] if tasks else [],
    }
