"""Runs executing in this process: their event buffers, subscribers and background tasks.

A run executes in its own task, never in the request that started it: a client that goes
away stops listening, but the turn still completes and is stored.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import structlog

from graphchat.service.events import EventName, RunEvent
from graphchat.store.records import RunStatus

log = structlog.get_logger(__name__)


class LiveRun:
    """One executing run: an append-only event list that any number of clients follow.

    Followers wait on plain futures, made only while one waits: an `asyncio.Event` holds a
    760-byte deque from its creation, and a run waiting for its model's first token is held
    by the thousand while nothing happens.
    """

    __slots__ = (
        "_caught_up",
        "_final",
        "_taken",
        "_waiters",
        "cancel_status",
        "events",
        "first_seq",
        "followers",
        "persisted",
        "run_id",
        "task",
        "thread_id",
        "unwatched_ticks",
        "watched",
    )

    def __init__(self, run_id: str, thread_id: str, first_seq: int = 0) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.first_seq = first_seq  # a resumed run's events follow those before its pause
        self.events: list[RunEvent] = []
        self._waiters: list[asyncio.Future[None]] = []  # followers waiting for the next event
        self._caught_up: asyncio.Future[None] | None = None  # see `heard`
        self._taken = 0  # how many events a follower had taken when it last caught up
        self._final = False
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
        return self._final

    @property
    def all_written(self) -> bool:
        """Whether every event published so far is in the database."""
        return self.persisted == len(self.events)

    def goes_on_after(self, seq: int) -> bool:
        """Whether a follower after `seq` gets anything here: a later event, or one to come."""
        return not self._final or seq < self.next_seq - 1

    def publish(self, event: EventName, data: dict[str, Any]) -> RunEvent:
        if self._final:
            raise RuntimeError(f"run {self.run_id} has already finished")
        item = RunEvent(self.run_id, self.next_seq, event, data)
        self.events.append(item)
        self._final = item.is_final
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return item

    def end_with_error(self, code: str, message: str) -> None:
        """End every stream with an `error` event, unless the run has already ended."""
        if not self._final:
            self.publish(
                "error", {"error": {"code": code, "message": message}, "run_id": self.run_id}
            )

    async def _next_event(self) -> None:
        """Return once another event is published (never misses one: nothing awaits between
        the caller's look at `events` and the future joining the waiters)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter in self._waiters:  # publish() has not swapped it out yet
                self._waiters.remove(waiter)
            raise

    async def follow(self, after: int = -1) -> AsyncIterator[RunEvent]:
        """The events with `seq > after`, then live ones until the final event.

        While followed, the run's events are written every tick (see `EventWriter`)."""
        index = max(after + 1 - self.first_seq, 0)
        self.followers += 1
        self.watched = True
        try:
            while True:
                while index < len(self.events):
                    item = self.events[index]
                    index += 1
                    yield item
                    if item.is_final:
                        return
                self._taken = len(self.events)
                if self._caught_up is not None and not self._caught_up.done():
                    self._caught_up.set_result(None)
                if self._final:  # past the end: nothing will ever be published
                    return
                await self._next_event()
        finally:
            self.followers -= 1

    async def heard(self, at_most: float) -> None:
        """Return once a follower has taken every event published so far (its frames are
        written), or after `at_most` seconds: a client may be gone before it follows."""
        if self._taken == len(self.events):
            return  # a follower took them all before anyone asked
        self._caught_up = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([self._caught_up], timeout=at_most)
        finally:
            self._caught_up = None

    async def wait(self) -> RunEvent:
        """Wait for the run to finish; returns its final event."""
        while not self._final:
            await self._next_event()
        return self.events[-1]

    async def settle(self) -> None:
        """Wait until the run's task is over (its events written), not just its final event."""
        if self.task is not None:
            await asyncio.wait([self.task])


class LiveRuns:
    """The registry of this process's executing runs."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}
        self._starting: set[str] = set()
        self._starting_on: collections.Counter[str] = collections.Counter()  # by thread id
        self._any = asyncio.Event()  # set while a run executes here

    def get(self, run_id: str) -> LiveRun | None:
        return self._runs.get(run_id)

    def holds(self, run_id: str) -> bool:
        """Whether the run executes here, or is being stored here to execute next."""
        return run_id in self._runs or run_id in self._starting

    @contextlib.contextmanager
    def starting(self, run_id: str, thread_id: str) -> Iterator[bool]:
        """Around storing a run as running until `start`: the run monitor must not take a run
        stored a moment ago, not yet started, for one whose task is gone. Yields whether a run
        of the thread executes or is being stored here too (either may refuse this one). One
        that published its final event cannot: its outcome is stored (or could not be, and then
        asking ahead costs a request cancelled), though its task may still write its events."""
        others = self._starting_on[thread_id] > 0 or any(
            not run.finished for run in self.for_thread(thread_id)
        )
        self._starting.add(run_id)
        self._starting_on[thread_id] += 1
        try:
            yield others
        finally:
            self._starting.discard(run_id)
            self._starting_on[thread_id] -= 1
            if not self._starting_on[thread_id]:
                del self._starting_on[thread_id]

    def for_thread(self, thread_id: str) -> list[LiveRun]:
        return [run for run in self._runs.values() if run.thread_id == thread_id]

    def all(self) -> list[LiveRun]:
        return list(self._runs.values())

    async def executing(self) -> None:
        """Return once a run executes here (at once while one does)."""
        await self._any.wait()

    def start(self, live: LiveRun, execute: Callable[[LiveRun], Coroutine[Any, Any, None]]) -> None:
        """Run `execute(live)` in a background task that outlives the calling request."""
        self._runs[live.run_id] = live
        self._any.set()
        # A done-callback, not a wrapping coroutine: one frame less held per running run. It
        # was added first, so it runs before anything that waits on the task wakes up.
        live.task = asyncio.create_task(execute(live), name=f"run-{live.run_id}")
        live.task.add_done_callback(lambda task: self._ended(live, task))

    def _ended(self, live: LiveRun, task: asyncio.Task[None]) -> None:
        self._runs.pop(live.run_id, None)
        if not self._runs:
            self._any.clear()
        if not live.finished:  # its task died before its final event: still end every stream
            crash = None if task.cancelled() else task.exception()
            log.error("run_ended_without_final_event", run_id=live.run_id, exc_info=crash)
            live.end_with_error("internal_error", "the run ended unexpectedly; see the server log")

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
