"""Routing by model, failover to another backend serving it, fallbacks, catalog and default."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from graphchat.errors import ModelNotFound, ProviderUnavailable
from graphchat.llm.base import ChatChunk, ChatMessage, ChatRequest
from graphchat.llm.fake import ScriptedProvider, ScriptedReply
from graphchat.llm.router import ModelRouter

DOWN = ProviderUnavailable("down")


def _request(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=(ChatMessage("user", "hi"),))


async def _run(router: ModelRouter, model: str) -> list[ChatChunk]:
    return [chunk async for chunk in router.stream(_request(model))]


async def test_a_request_goes_to_the_backend_serving_its_model() -> None:
    a, b = ScriptedProvider("a", ("llama3.2:latest",)), ScriptedProvider("b", ("qwen",))
    router = ModelRouter([a, b])
    await _run(router, "qwen")
    await _run(router, "llama3.2")
    assert [r.model for r in a.requests] == ["llama3.2"] and [r.model for r in b.requests] == [
        "qwen"
    ]


async def test_an_unknown_model_is_not_found() -> None:
    router = ModelRouter([ScriptedProvider("a"), ScriptedProvider("b", ("x",))])
    with pytest.raises(ModelNotFound):
        await _run(router, "nope")


async def test_a_down_backend_fails_over_to_another_serving_the_model() -> None:
    a = ScriptedProvider("a", ("m",)).script(ScriptedReply(error=DOWN))
    b = ScriptedProvider("b", ("m",))
    chunks = await _run(ModelRouter([a, b]), "m")
    assert chunks[0].content == "ok" and chunks[0].model is None
    assert len(a.requests) == len(b.requests) == 1


async def test_fallback_models_answer_when_the_backend_is_down_and_say_so() -> None:
    a = ScriptedProvider("a", ("big",)).script(ScriptedReply(error=DOWN))
    b = ScriptedProvider("b", ("small",))
    chunks = await _run(ModelRouter([a, b], fallbacks=["small"]), "big")
    assert [c.model for c in chunks] == ["small", "small"]
    assert b.requests[0].model == "small"


async def test_without_fallbacks_the_first_error_is_raised() -> None:
    a = ScriptedProvider("a", ("big",)).script(ScriptedReply(error=DOWN))
    b = ScriptedProvider("b", ("small",))
    with pytest.raises(ProviderUnavailable):
        await _run(ModelRouter([a, b]), "big")
    assert b.requests == []


async def test_no_fallback_after_the_first_chunk() -> None:
    a = ScriptedProvider("a", ("big",)).script(
        ScriptedReply(tokens=("x", "y"), error=DOWN, error_after=1)
    )
    b = ScriptedProvider("b", ("small",))
    with pytest.raises(ProviderUnavailable):
        await _run(ModelRouter([a, b], fallbacks=["small"]), "big")
    assert b.requests == []


async def test_an_unreachable_backend_keeps_its_models_listed_as_unavailable() -> None:
    a, b = ScriptedProvider("a", ("m1",)), ScriptedProvider("b", ("m2",))
    router = ModelRouter([a, b])
    assert [m.available for m in await router.list_models()] == [True, True]
    a.listing_error = DOWN
    catalog = await router.catalog()
    assert [(m.name, m.available) for m in catalog.models] == [("m1", False), ("m2", True)]
    assert catalog.unreachable == ("a",)


async def test_a_model_missing_while_a_backend_is_unreachable_is_unavailable_not_unknown() -> None:
    a = ScriptedProvider("a", ("m1",), listing_error=DOWN)
    router = ModelRouter([a, ScriptedProvider("b", ("m2",))])
    with pytest.raises(ProviderUnavailable):
        await _run(router, "m1")


async def test_the_default_model_is_the_configured_one_else_the_first_available() -> None:
    a = ScriptedProvider("a", ("m1",), listing_error=DOWN)
    b = ScriptedProvider("b", ("m2", "m3"))
    assert await ModelRouter([a, b]).default_model() == "m2"
    assert await ModelRouter([a, b], default_model="x").default_model() == "x"


async def test_statuses_report_each_backend() -> None:
    router = ModelRouter([ScriptedProvider("a", listing_error=DOWN), ScriptedProvider("b")])
    statuses = await router.statuses()
    assert [(s.name, s.ok, s.circuit) for s in statuses] == [
        ("a", False, "closed"),
        ("b", True, "closed"),
    ]


async def test_with_no_model_available_the_default_is_the_first_listed() -> None:
    down = ScriptedProvider("a", ("m1",), available=False)
    assert await ModelRouter([down]).default_model() == "m1"


async def test_a_model_call_leaves_no_generator_for_the_loop_to_close() -> None:
    """One suspended async generator per call cost a wake-up and a task of its own, once the
    event loop's finalizer closed it."""
    finalized: list[str] = []
    hooks = sys.get_asyncgen_hooks()

    def finalizer(generator: AsyncGenerator[Any, None]) -> None:
        finalized.append(getattr(generator, "__qualname__", repr(generator)))
        assert hooks.finalizer is not None
        hooks.finalizer(generator)

    sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)
    try:
        router = ModelRouter([ScriptedProvider("a", ("llama3.2:latest",))])
        assert await _run(router, "llama3.2")
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(*hooks)
    assert finalized == []
