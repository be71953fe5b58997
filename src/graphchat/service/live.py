"""Runs executing in this process: their event buffers, subscribers and background tasks.

A run executes in its own task, never in the request that started it: a client that goes
away stops listening, but the turn still completes and is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from graphchat.service.events import EventName, RunEvent
from graphchat.store.records import RunStatus

log = structlog.get_logger(__name__)


class LiveRun:
    """One executing run: an append-only event list that any number of clients follow."""

    def __init__(self, run_id: str, thread_id: str, first_seq: int = 0) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.first_seq = first_seq  # a resumed run's events follow those before its pause
        self.events: list[RunEvent] = []
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.persisted = 0  # events[:persisted] are in the database
        self.followers = 0  # clients following it now
        self.watched = False  # followed since its events were last written
        self.unwatched_ticks = 0  # event-writer ticks passed over since its last write
        self.cancel_status = RunStatus.CANCELLED  # recorded when the task is cancelled

    @property
    def next_seq(self) -> int:
        """The sequence number the next published event gets."""
        return self.first_seq + len(self.events)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def publish(self, event: EventName, data: dict[str, Any]) -> RunEvent:
        if self.finished:
            raise RuntimeError(f"run {self.run_id} has already finished")
        item = RunEvent(seq=self.next_seq, event=event, data=data)
        self.events.append(item)
        if item.is_final:
            self._finished.set()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return item

    async def follow(self, after: int = -1) -> AsyncIterator[RunEvent]:
        """The events with `seq > after`, then live ones until the final event.

        While followed, the run's events are written every tick (see `EventWriter`)."""
        index = max(after + 1 - self.first_seq, 0)
        self.followers += 1
        self.watched = True
        try:
            while True:
                changed = self._changed
                while index < len(self.events):
                    item = self.events[index]
                    index += 1
                    yield item
                    if item.is_final:
                        return
                await changed.wait()
        finally:
            self.followers -= 1

    async def wait(self) -> RunEvent:
        """Wait for the run to finish; returns its final event."""
        await self._finished.wait()
        return self.events[-1]

    async def settle(self) -> None:
        """Wait until the run's task is over (its events written), not just its final event."""
        if self.task is not None:
            await asyncio.wait([self.task])


class LiveRuns:
    """The registry of this process's executing runs."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}

    def get(self, run_id: str) -> LiveRun | None:
        return self._runs.get(run_id)

    def for_thread(self, thread_id: str) -> list[LiveRun]:
        return [run for run in self._runs.values() if run.thread_id == thread_id]

    def all(self) -> list[LiveRun]:
        return list(self._runs.values())

    def start(self, live: LiveRun, execute: Callable[[LiveRun], Awaitable[None]]) -> None:
        """Run `execute(live)` in a background task that outlives the calling request."""
        self._runs[live.run_id] = live

        async def _guarded() -> None:
            try:
                await execute(live)
            finally:
                self._runs.pop(live.run_id, None)

        live.task = asyncio.create_task(_guarded(), name=f"run-{live.run_id}")

    async def cancel(self, run_id: str, status: RunStatus = RunStatus.CANCELLED) -> bool:
        """Cancel a run of this process, recorded with `status`; True when it ran here."""
        live = self._runs.get(run_id)
        if live is None or live.task is None:
            return False
        live.cancel_status = status
        live.task.cancel()
        await asyncio.gather(live.task, return_exceptions=True)
        return True

    async def shutdown(self, grace_seconds: float) -> None:
        """Let runs finish for up to `grace_seconds`, then cancel the rest (they store partials)."""
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
        for live in self._runs.values():
            if live.task in pending:
                live.cancel_status = RunStatus.INTERRUPTED
                live.task.cancel()
        if pending:
            log.warning("runs_cancelled_at_shutdown", count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
