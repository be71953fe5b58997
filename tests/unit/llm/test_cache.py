"""Cache keys and the read-through cache, with an in-memory reply store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graphchat.errors import StoreUnavailable
from graphchat.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ResponseFormat,
    SamplingParams,
    ToolSpec,
)
from graphchat.llm.cache import CachePolicy, ReplyCache, cache_key
from graphchat.llm.fake import ScriptedProvider, ScriptedReply

REQUEST = ChatRequest(
    model="m", messages=(ChatMessage("user", "hi"),), params=SamplingParams(temperature=0)
)


class MemoryStore:
    def __init__(self, *, broken: bool = False) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.broken = broken

    async def get(self, key: str) -> dict[str, Any] | None:
        if self.broken:
            raise StoreUnavailable("db down")
        return self.rows.get(key)

    async def put(
        self, key: str, model: str, reply: dict[str, Any], *, ttl_seconds: float, max_entries: int
    ) -> None:
        if self.broken:
            raise StoreUnavailable("db down")
        self.rows[key] = reply


async def _run(
    cache: ReplyCache, source: ScriptedProvider, request: ChatRequest
) -> list[ChatChunk]:
    return [chunk async for chunk in cache.through(request, source.stream)]


def test_the_key_covers_model_params_messages_tools_and_output_format() -> None:
    variants = [
        replace(REQUEST, model="n"),
        replace(REQUEST, params=SamplingParams(temperature=0, max_tokens=5)),
        replace(REQUEST, messages=(ChatMessage("user", "hi!"),)),
        replace(REQUEST, tools=(ToolSpec("t", "d", {}),)),
        replace(REQUEST, tools=(ToolSpec("t", "d", {}),), tool_choice="required"),
        replace(REQUEST, response_format=ResponseFormat("json_object")),
        replace(REQUEST, response_format=ResponseFormat("json_schema", {"type": "object"})),
    ]
    keys = {cache_key(REQUEST), *(cache_key(variant) for variant in variants)}
    assert len(keys) == 8
    assert cache_key(REQUEST) == cache_key(replace(REQUEST))


async def test_a_hit_replays_the_reply_as_cached_chunks_without_calling_the_source() -> None:
    cache, source = ReplyCache(MemoryStore(), CachePolicy()), ScriptedProvider("b")
    source.script(ScriptedReply(tokens=("a", "b")))
    first = await _run(cache, source, REQUEST)
    second = await _run(cache, source, REQUEST)

    assert len(source.requests) == 1
    assert [c.content for c in second] == [c.content for c in first] == ["a", "b", ""]
    assert all(c.cached for c in second) and not any(c.cached for c in first)
    assert second[-1].done and second[-1].usage == first[-1].usage


async def test_sampled_requests_pass_through_unless_allowed() -> None:
    sampled = replace(REQUEST, params=SamplingParams(temperature=0.7))
    source = ScriptedProvider("b")
    await _run(ReplyCache(MemoryStore(), CachePolicy()), source, sampled)
    await _run(ReplyCache(MemoryStore(), CachePolicy()), source, sampled)
    assert len(source.requests) == 2
    seeded = replace(REQUEST, params=SamplingParams(temperature=0.7, seed=3))
    assert ReplyCache(MemoryStore(), CachePolicy()).eligible(seeded)
    assert ReplyCache(MemoryStore(), CachePolicy(nondeterministic=True)).eligible(sampled)


async def test_a_broken_store_is_a_miss_not_a_failure() -> None:
    cache, source = ReplyCache(MemoryStore(broken=True), CachePolicy()), ScriptedProvider("b")
    assert (await _run(cache, source, REQUEST))[0].content == "ok"
