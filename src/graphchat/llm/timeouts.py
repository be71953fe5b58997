"""Deadlines for model calls: first token, stall between tokens, and the call in all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from graphchat.errors import ProviderTimeout

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    first_token: float = 120.0
    stall: float = 60.0
    total: float = 600.0


async def next_within(awaitable: Awaitable[T], seconds: float, deadline: float, what: str) -> T:
    """Await one step of a reply, bounded by its own timeout and the call's overall deadline.

    Timeouts are applied per await, never across a `yield`, so a cancellation can only land
    inside the awaited step.
    """
    loop = asyncio.get_running_loop()
    limit = min(loop.time() + seconds, deadline)
    try:
        async with asyncio.timeout_at(limit):
            return await awaitable
    except TimeoutError as exc:
        reason = "the model call exceeded its total time" if limit == deadline else what
        raise ProviderTimeout(f"model backend timed out: {reason}") from exc
