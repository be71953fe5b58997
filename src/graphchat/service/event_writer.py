"""Writes live runs' events to the database in batches, so streams can be rejoined anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from graphchat.errors import StoreUnavailable
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.store.run_events import RunEventRepository, StoredEvent

log = structlog.get_logger(__name__)


class EventWriter:
    """One transaction per tick for every run of the process, however many stream at once: one
    row per run holding the events it published since the last tick."""

    def __init__(
        self,
        events: RunEventRepository,
        live_runs: LiveRuns,
        *,
        interval_seconds: float,
        max_per_run: int,
    ) -> None:
        self._events = events
        self._live = live_runs
        self._interval = interval_seconds
        self._max_per_run = max_per_run
        self._lock = asyncio.Lock()

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush(self._live.all())
            except StoreUnavailable as exc:
                log.warning("run_events_not_written", error=exc.message)

    async def flush(self, runs: list[LiveRun]) -> None:
        """Write every event of `runs` not yet in the database."""
        async with self._lock:
            batch: list[StoredEvent] = []
            marks: list[tuple[LiveRun, int]] = []
            for live in runs:
                end = len(live.events)
                batch.extend(self._keepable(live, live.persisted, end))
                marks.append((live, end))
            await self._events.append(batch)
            for live, end in marks:
                live.persisted = end

    @asynccontextmanager
    async def unwritten(self, live: LiveRun) -> AsyncIterator[list[StoredEvent]]:
        """The run's events not yet written, for a caller writing them in its own transaction.

        Ticks wait meanwhile; when the block ends without error, every event the run has
        published by then counts as written.
        """
        async with self._lock:
            yield self._keepable(live, live.persisted, len(live.events))
            live.persisted = len(live.events)

    def _keepable(self, live: LiveRun, start: int, end: int) -> list[StoredEvent]:
        """Events to keep; past the per-run bound only non-token events are kept."""
        return [
            StoredEvent(live.run_id, event.seq, event.event, event.data)
            for event in live.events[start:end]
            if event.seq < self._max_per_run or event.event != "token"
        ]
