"""Deadlines for model calls: first token, stall between tokens, and the call in all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from graphchat.errors import ProviderTimeout

T = TypeVar("T")
TOTAL_EXCEEDED = "the model call exceeded its total time"


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
        raise _timed_out(limit, deadline, what) from exc


def _timed_out(limit: float, deadline: float, what: str) -> ProviderTimeout:
    reason = TOTAL_EXCEEDED if limit == deadline else what
    return ProviderTimeout(f"model backend timed out: {reason}")


class ReadWatch:
    """Bounds each wait for the next piece of a reply, with one timer for the whole reply.

    `within` is `next_within` for a stream of many small steps: a timeout entered and left per
    step (a timer scheduled and cancelled each time) cost ~7 us of a ~25 us token. Here the
    timer fires at the earliest moment the current wait could expire; a wait not over by then,
    or a reply not waiting at all (its reader busy between steps), only moves it on. The task
    awaiting the step is cancelled only while it awaits it, so the cancellation lands in that
    await, never in the reader's own code between steps.
    """

    __slots__ = (
        "_cancelling",
        "_deadline",
        "_expired",
        "_handle",
        "_limit",
        "_loop",
        "_task",
        "_waiting",
    )

    def __init__(self, deadline: float) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a ReadWatch is made by the task that reads the reply")
        self._loop = task.get_loop()
        self._task = task
        self._deadline = deadline
        self._limit = deadline
        self._waiting = False
        self._expired = False
        self._cancelling = 0
        self._handle: asyncio.TimerHandle | None = None

    async def within(self, awaitable: Awaitable[T], seconds: float, what: str) -> T:
        """`await awaitable`, or `ProviderTimeout` after `seconds` (and by the deadline)."""
        # The task awaiting this step: a reply's first step may be read by a task of its own
        # (agent/opening.py), the rest by the node's.
        self._task = asyncio.current_task() or self._task
        self._limit = min(self._loop.time() + seconds, self._deadline)
        if self._handle is None or self._handle.when() > self._limit:
            self._schedule(self._limit)
        self._waiting = True
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self._take_expiry():
                raise  # cancelled by someone else (too)
            raise _timed_out(self._limit, self._deadline, what) from None
        finally:
            self._waiting = False
            self._take_expiry()  # an expiry whose cancellation the step swallowed

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, when: float) -> None:
        self.close()
        self._handle = self._loop.call_at(when, self._check)

    def _check(self) -> None:
        self._handle = None
        if not self._waiting:
            return  # the next wait schedules its own limit
        if self._loop.time() < self._limit:
            self._schedule(self._limit)
        elif not self._expired:
            self._expired = True
            self._cancelling = self._task.cancelling()
            self._task.cancel()

    def _take_expiry(self) -> bool:
        """Whether the cancellation being handled was this watch's alone (and undo its count)."""
        if not self._expired:
            return False
        self._expired = False
        return self._task.uncancel() <= self._cancelling
