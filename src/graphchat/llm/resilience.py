"""Retries with backoff and a circuit breaker, wrapped around one backend as a `ChatProvider`.

Only transient failures (`ProviderUnavailable`, `ProviderTimeout`: refused connections, 5xx,
timeouts) are retried, and only before the first chunk was yielded — after that the client has
seen part of the reply and a retry would repeat it. A 4xx is the caller's problem: never retried.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from graphchat.errors import GraphchatError, ProviderTimeout, ProviderUnavailable
from graphchat.llm.base import ChatChunk, ChatProvider, ChatRequest, ModelInfo

CircuitState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 2
    backoff_base: float = 0.25
    backoff_max: float = 4.0
    budget: float = 600.0  # no retry starts once this many seconds have passed since the call

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter: half fixed, half random (`attempt` from 1)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def is_transient(error: GraphchatError) -> bool:
    return isinstance(error, ProviderUnavailable | ProviderTimeout)


@dataclass(frozen=True, slots=True)
class CircuitSnapshot:
    name: str
    state: CircuitState
    failures: int
    retry_after: int | None = None


class CircuitBreaker:
    """Opens after `threshold` consecutive failed calls; after `cooldown` lets one probe through
    (half-open); the probe's success closes it, its failure opens it again."""

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def snapshot(self) -> CircuitSnapshot:
        remaining = self._remaining()
        if self._opened_at is None:
            return CircuitSnapshot(self.name, "closed", self._failures)
        if remaining > 0:
            return CircuitSnapshot(self.name, "open", self._failures, math.ceil(remaining))
        return CircuitSnapshot(self.name, "half_open", self._failures)

    def _remaining(self) -> float:
        if self._opened_at is None:
            return 0.0
        return self._opened_at + self._cooldown - self._clock()

    def acquire(self) -> None:
        """Let a call through, or fail fast with `ProviderUnavailable(retry_after=…)`."""
        if self._opened_at is None:
            return
        remaining = self._remaining()
        if remaining <= 0 and not self._probing:
            self._probing = True  # this call is the half-open probe
            return
        raise ProviderUnavailable(
            f"model backend '{self.name}' is failing; not trying it again yet",
            retry_after=max(1, math.ceil(remaining)),
        )

    def succeed(self) -> None:
        self._failures, self._opened_at, self._probing = 0, None, False

    def fail(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """The call ended without a verdict (cancelled): let another call probe."""
        self._probing = False


class ResilientProvider:
    """A backend behind retries and a circuit breaker; same `ChatProvider` interface."""

    def __init__(
        self,
        inner: ChatProvider,
        *,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.breaker = breaker
        self._policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        """The inner backend's reply, tried again while it fails transiently before its first
        chunk; each outcome counts toward the breaker once (one generator: every chunk of every
        reply passes through here)."""
        self.breaker.acquire()
        verdict = False
        started = time.monotonic()
        attempt = 0
        try:
            while True:
                attempt += 1
                yielded = False
                try:
                    async for chunk in self.inner.stream(request):
                        yielded = True
                        yield chunk
                    break
                except GraphchatError as exc:
                    delay = self._policy.delay(attempt, self._rng)
                    spent = time.monotonic() - started + delay
                    if (
                        yielded
                        or not is_transient(exc)
                        or attempt > self._policy.retries
                        or spent > self._policy.budget
                    ):
                        raise
                await self._sleep(delay)
            self.breaker.succeed()
            verdict = True
        except GraphchatError as exc:
            if is_transient(exc):
                self.breaker.fail()
            else:
                self.breaker.succeed()  # the backend answered: the fault is in the request
            verdict = True
            raise
        finally:
            if not verdict:
                self.breaker.release()

    async def list_models(self) -> list[ModelInfo]:
        models = await self.inner.list_models()
        if self.breaker.snapshot().state != "open":
            return models
        return [ModelInfo(m.name, m.backend, False, m.capabilities, m.details) for m in models]

    async def check(self) -> None:
        """The backend's own check, but an open breaker fails it without a call."""
        circuit = self.breaker.snapshot()
        if circuit.state == "open":
            raise ProviderUnavailable(
                f"circuit breaker open after {circuit.failures} failures; "
                f"next try in {circuit.retry_after}s",
                retry_after=circuit.retry_after,
            )
        await self.inner.check()

    async def aclose(self) -> None:
        await self.inner.aclose()
