"""The response cache: a repeated deterministic request is answered from the database.

The key is a hash of the model, the sampling parameters, the exact messages, the tools (ours or
the caller's) and the requested output format, so
any difference in context is a miss. A hit replays the stored reply as chunks marked `cached`,
so callers stream it like a fresh one. The cache is best-effort: a database failure is a miss.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import structlog

from graphchat.errors import GraphchatError
from graphchat.json_text import dumps
from graphchat.llm.base import ChatChunk, ChatRequest, FinishReason, ToolCall, Usage

log = structlog.get_logger(__name__)

_FINISHED: frozenset[str] = frozenset({"stop", "length", "tool_calls"})


class ReplyStore(Protocol):
    """Where cached replies live (`store.replies.ReplyRepository`)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(
        self, key: str, model: str, reply: dict[str, Any], *, ttl_seconds: float, max_entries: int
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class CachePolicy:
    ttl_seconds: float = 3600.0
    max_entries: int = 10_000
    nondeterministic: bool = False  # also cache sampled replies (temperature > 0, no seed)


def cache_key(request: ChatRequest) -> str:
    """A SHA-256 over everything that decides the reply."""
    document = {
        "model": request.model,
        "params": asdict(request.params),
        "messages": [asdict(message) for message in request.messages],
        "tools": [asdict(tool) for tool in request.tools],
        "tool_choice": request.tool_choice,
        "response_format": asdict(request.response_format) if request.response_format else None,
    }
    return hashlib.sha256(dumps(document, sort_keys=True)).hexdigest()


def _record(pieces: list[str], last: ChatChunk) -> dict[str, Any]:
    usage = last.usage or Usage()
    return {
        "pieces": pieces,
        "tool_calls": [asdict(call) for call in last.tool_calls],
        "finish_reason": last.finish_reason,
        "usage": [usage.prompt_tokens, usage.completion_tokens],
    }


def _replay(record: dict[str, Any]) -> list[ChatChunk]:
    chunks = [ChatChunk(content=piece, cached=True) for piece in record["pieces"]]
    reason: FinishReason = record["finish_reason"]
    chunks.append(
        ChatChunk(
            tool_calls=tuple(ToolCall(**call) for call in record["tool_calls"]),
            done=True,
            finish_reason=reason,
            usage=Usage(*record["usage"]),
            cached=True,
        )
    )
    return chunks


Source = Callable[[ChatRequest], AsyncIterator[ChatChunk]]


class ReplyCache:
    def __init__(self, store: ReplyStore, policy: CachePolicy) -> None:
        self._store = store
        self._policy = policy

    def eligible(self, request: ChatRequest) -> bool:
        return self._policy.nondeterministic or request.params.is_deterministic()

    async def through(
        self, request: ChatRequest, source: Source
    ) -> AsyncGenerator[ChatChunk, None]:
        """The cached reply when there is one; otherwise `source`'s, stored once complete."""
        if not self.eligible(request):
            async for chunk in source(request):
                yield chunk
            return
        key = cache_key(request)
        record = await self._get(key)
        if record is not None:
            for chunk in _replay(record):
                yield chunk
            return
        pieces: list[str] = []
        async for chunk in source(request):
            pieces.append(chunk.content) if chunk.content else None
            yield chunk
            if chunk.done and chunk.finish_reason in _FINISHED and not chunk.model:
                await self._put(key, request.model, _record(pieces, chunk))

    async def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return await self._store.get(key)
        except GraphchatError as exc:
            log.warning("reply_cache_unavailable", error=exc.message)
            return None

    async def _put(self, key: str, model: str, record: dict[str, Any]) -> None:
        try:
            await self._store.put(
                key,
                model,
                record,
                ttl_seconds=self._policy.ttl_seconds,
                max_entries=self._policy.max_entries,
            )
        except GraphchatError as exc:
            log.warning("reply_cache_unavailable", error=exc.message)
