"""Writes live runs' events to the database in batches, so streams can be rejoined anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from graphchat.service.events import RunEvent
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.service.periodic import every
from graphchat.store.run_events import RunEventRepository

log = structlog.get_logger(__name__)


class EventWriter:
    """One transaction per tick for every run of the process, however many stream at once: one
    row per run holding the events it published since the last tick.

    Only runs a client follows (or followed since their last write) are written every tick; a
    run nobody follows is written every `checkpoint_seconds`, and whole when it ends, so a short
    unstreamed turn writes its events once, with its reply. A client joining later still gets
    every event: from memory in this process, from the database elsewhere (at the checkpoint's
    pace), and a crash loses at most the last checkpoint's worth that nobody had seen."""

    def __init__(
        self,
        events: RunEventRepository,
        live_runs: LiveRuns,
        *,
        interval_seconds: float,
        max_per_run: int,
        checkpoint_seconds: float = 1.0,
    ) -> None:
        self._events = events
        self._live = live_runs
        self._interval = interval_seconds
        self._max_per_run = max_per_run
        self._checkpoint_ticks = max(1, round(checkpoint_seconds / interval_seconds))
        self._lock = asyncio.Lock()

    async def run_forever(self) -> None:
        await every(
            self._interval, self.tick, log, "run_events_not_written", busy=self._live.executing
        )

    async def tick(self) -> None:
        """Write the runs that are due: followed ones, and unfollowed ones at a checkpoint."""
        await self.flush([live for live in self._live.all() if self._due(live)])

    def _due(self, live: LiveRun) -> bool:
        """Whether this tick writes the run: it has unwritten events and is followed, or a
        checkpoint is due (a thousand streams waiting for a first token cost no flush)."""
        if live.persisted == len(live.events):
            return False
        if live.watched or live.followers:
            return True
        live.unwatched_ticks += 1
        return live.unwatched_ticks >= self._checkpoint_ticks

    async def flush(self, runs: list[LiveRun]) -> None:
        """Write every event of `runs` not yet in the database."""
        async with self._lock:
            batch: list[RunEvent] = []
            marks: list[tuple[LiveRun, int]] = []
            for live in runs:
                end = len(live.events)
                batch.extend(self._keepable(live, live.persisted, end))
                marks.append((live, end))
            await self._events.append(batch)
            for live, end in marks:
                live.persisted = end
                live.watched = live.followers > 0
                live.unwatched_ticks = 0

    @asynccontextmanager
    async def unwritten(self, live: LiveRun) -> AsyncIterator[list[RunEvent]]:
        """The run's events not yet written, for a caller writing them in its own transaction.

        Ticks wait meanwhile; when the block ends without error, every event the run has
        published by then counts as written.
        """
        async with self._lock:
            yield self._keepable(live, live.persisted, len(live.events))
            live.persisted = len(live.events)

    def _keepable(self, live: LiveRun, start: int, end: int) -> list[RunEvent]:
        """Events to keep; past the per-run bound only non-token events are kept."""
        return [
            event
            for event in live.events[start:end]
            if event.seq < self._max_per_run or event.event != "token"
        ]
