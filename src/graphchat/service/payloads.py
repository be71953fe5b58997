"""JSON shapes of stored records in run events (the REST responses are `api/schemas` models)."""

from __future__ import annotations

from typing import Any

from graphchat.store.records import Message


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
        "usage": usage_payload(message.prompt_tokens, message.completion_tokens)
        if message.usage
        else None,
        "latency_ms": message.latency_ms,
        "cached": message.cached,
        "created_at": message.created_at.isoformat(),
    }
