"""JSON shapes of stored records, shared by stream events and the REST responses."""

from __future__ import annotations

from typing import Any

from graphchat.service.approvals import pending_of
from graphchat.store.records import Message, Run


def usage_payload(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int]:
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "seq": message.seq,
        "parent_id": message.parent_id,
        "run_id": message.run_id,
        "role": message.role,
        "content": message.content,
        "tool_calls": message.tool_calls,
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "model": message.model,
        "status": str(message.status),
        "finish_reason": message.finish_reason,
        "usage": (
            usage_payload(message.prompt_tokens, message.completion_tokens)
            if message.prompt_tokens is not None or message.completion_tokens is not None
            else None
        ),
        "latency_ms": message.latency_ms,
        "cached": message.cached,
        "created_at": message.created_at.isoformat(),
    }


def run_payload(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "status": run.status.value,
        "model": run.model,
        "params": run.params,
        "error": run.error,
        "usage": usage_payload(run.prompt_tokens, run.completion_tokens),
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "pending": pending_of(run),
    }
