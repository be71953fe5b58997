"""Retries only on transient failures before the first chunk; the breaker's states."""

from __future__ import annotations

import random

import pytest

from graphchat.errors import ModelNotFound, ProviderError, ProviderTimeout, ProviderUnavailable
from graphchat.llm.base import ChatChunk, ChatMessage, ChatRequest
from graphchat.llm.fake import ScriptedProvider, ScriptedReply
from graphchat.llm.resilience import CircuitBreaker, ResilientProvider, RetryPolicy

REQUEST = ChatRequest(model="m", messages=(ChatMessage("user", "hi"),))
DOWN = ProviderUnavailable("down")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _wrap(
    inner: ScriptedProvider, *, retries: int = 2, threshold: int = 3, clock: Clock | None = None
) -> tuple[ResilientProvider, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    breaker = CircuitBreaker(inner.name, threshold=threshold, cooldown=10, clock=clock or Clock())
    provider = ResilientProvider(
        inner,
        policy=RetryPolicy(retries=retries, backoff_base=0.5, backoff_max=1.5),
        breaker=breaker,
        sleep=sleep,
        rng=random.Random(1),
    )
    return provider, slept


async def _run(provider: ResilientProvider) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(REQUEST)]


@pytest.mark.parametrize("error", [DOWN, ProviderTimeout("slow")])
async def test_transient_failures_are_retried_with_growing_backoff(error: ProviderError) -> None:
    inner = ScriptedProvider("b").script(
        ScriptedReply(error=error), ScriptedReply(error=error), ScriptedReply()
    )
    provider, slept = _wrap(inner)

    chunks = await _run(provider)

    assert chunks[0].content == "ok" and len(inner.requests) == 3
    assert 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0


async def test_backoff_is_capped() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_max=2)
    assert all(1 <= policy.delay(10, random.Random(seed)) <= 2 for seed in range(20))


async def test_gives_up_after_the_configured_retries() -> None:
    inner = ScriptedProvider("b").script(*[ScriptedReply(error=DOWN)] * 5)
    provider, _ = _wrap(inner, retries=1)
    with pytest.raises(ProviderUnavailable):
        await _run(provider)
    assert len(inner.requests) == 2


@pytest.mark.parametrize("error", [ModelNotFound("no"), ProviderError("bad request")])
async def test_non_transient_errors_are_not_retried(error: Exception) -> None:
    inner = ScriptedProvider("b").script(ScriptedReply(error=error))  # type: ignore[arg-type]
    provider, _ = _wrap(inner)
    with pytest.raises(type(error)):
        await _run(provider)
    assert len(inner.requests) == 1


async def test_a_failure_after_the_first_chunk_is_not_retried() -> None:
    inner = ScriptedProvider("b").script(
        ScriptedReply(tokens=("a", "b"), error=DOWN, error_after=1)
    )
    provider, _ = _wrap(inner)
    seen: list[str] = []

    async def consume() -> None:
        async for chunk in provider.stream(REQUEST):
            seen.append(chunk.content)

    with pytest.raises(ProviderUnavailable):
        await consume()
    assert seen == ["a"] and len(inner.requests) == 1


async def test_the_breaker_opens_fails_fast_half_opens_and_closes() -> None:
    clock = Clock()
    inner = ScriptedProvider("b").script(*[ScriptedReply(error=DOWN)] * 2)
    provider, _ = _wrap(inner, retries=0, threshold=2, clock=clock)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await _run(provider)

    with pytest.raises(ProviderUnavailable) as fast_fail:
        await _run(provider)
    assert fast_fail.value.retry_after == 10 and len(inner.requests) == 2
    assert provider.breaker.snapshot().state == "open"

    clock.now += 10
    assert provider.breaker.snapshot().state == "half_open"
    await _run(provider)
    assert provider.breaker.snapshot().state == "closed" and len(inner.requests) == 3


async def test_only_one_probe_passes_a_half_open_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker("b", threshold=1, cooldown=5, clock=clock)
    breaker.fail()
    clock.now += 5
    breaker.acquire()  # the probe
    with pytest.raises(ProviderUnavailable):
        breaker.acquire()
    breaker.fail()
    assert breaker.snapshot().state == "open"


async def test_a_client_error_does_not_count_toward_opening() -> None:
    inner = ScriptedProvider("b").script(*[ScriptedReply(error=ModelNotFound("no"))] * 3)
    provider, _ = _wrap(inner, threshold=1)
    for _ in range(3):
        with pytest.raises(ModelNotFound):
            await _run(provider)
    assert provider.breaker.snapshot().state == "closed"


async def test_an_open_breaker_fails_the_readiness_check_and_marks_models() -> None:
    inner = ScriptedProvider("b").script(ScriptedReply(error=DOWN))
    provider, _ = _wrap(inner, retries=0, threshold=1)
    with pytest.raises(ProviderUnavailable):
        await _run(provider)
    with pytest.raises(ProviderUnavailable, match="circuit breaker open"):
        await provider.check()
    assert [m.available for m in await provider.list_models()] == [False]
