"""Run liveness across processes: heartbeats, cancel requests, crash recovery, event pruning.

Each process marks its running runs alive every few seconds and picks up cancel requests
made on other replicas. A run whose process died (same host and its pid gone, or silent
for `stale_seconds`) is closed as `interrupted`, keeping what the model had said, so no
thread stays busy forever.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from graphchat.service.events import RunEvent
from graphchat.service.live import LiveRuns
from graphchat.service.periodic import every
from graphchat.store import Store
from graphchat.store.records import MessageStatus, NewMessage, RunStatus
from graphchat.store.threads import utcnow

log = structlog.get_logger(__name__)
_PRUNE_EVERY_SECONDS = 3600.0


def new_worker_id() -> str:
    """host:pid:nonce — unique per app instance, and tells whether its process still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _process_gone(worker_id: str | None) -> bool:
    host, _, rest = (worker_id or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def partial_reply(events: list[RunEvent]) -> NewMessage | None:
    """The assistant text streamed after the last stored message, if any."""
    stored = {e.data.get("id") for e in events if e.event == "message"}
    pieces: dict[str, list[str]] = {}
    for event in events:
        message_id = str(event.data.get("message_id"))
        if event.event == "token" and message_id not in stored:
            pieces.setdefault(message_id, []).append(str(event.data.get("text", "")))
    if not pieces:
        return None
    message_id, texts = list(pieces.items())[-1]
    return NewMessage(
        id=message_id,
        role="assistant",
        content="".join(texts),
        status=MessageStatus.INTERRUPTED,
        finish_reason="cancelled",
    )


class RunMonitor:
    def __init__(
        self,
        store: Store,
        live_runs: LiveRuns,
        worker_id: str,
        *,
        heartbeat_seconds: float,
        stale_seconds: float,
        retention: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._clock = clock  # the wall clock heartbeats are compared with
        self._live = live_runs
        self.worker_id = worker_id
        self._heartbeat = heartbeat_seconds
        self._stale = timedelta(seconds=stale_seconds)
        self._retention = retention
        self._pruned_at = float("-inf")

    async def run_forever(self) -> None:
        await every(self._heartbeat, self.tick, log, "run_monitor_skipped")

    async def tick(self) -> None:
        for run_id in await self._store.runs.heartbeat(self.worker_id):
            await self._live.cancel(run_id)
        await self.recover()
        if time.monotonic() - self._pruned_at > _PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            await self._store.run_events.prune(self._clock() - self._retention)

    async def recover(self) -> int:
        """Close the runs whose process is gone; returns how many."""
        cutoff = self._clock() - self._stale
        recovered = 0
        for run_id, thread_id, worker_id, heartbeat in await self._store.runs.running():
            if self._live.holds(run_id) or not self._is_dead(worker_id, heartbeat, cutoff):
                continue
            if await self._interrupt(run_id, thread_id):
                recovered += 1
        return recovered

    def _is_dead(self, worker_id: str | None, heartbeat: datetime | None, cutoff: datetime) -> bool:
        if worker_id == self.worker_id:
            return True  # ours, neither executing nor being started here: its task is gone
        return _process_gone(worker_id) or heartbeat is None or heartbeat < cutoff

    async def _interrupt(self, run_id: str, thread_id: str) -> bool:
        events: list[RunEvent] = []
        while batch := await self._store.run_events.after(run_id, events[-1].seq if events else -1):
            events.extend(batch)
        partial = partial_reply(events)
        if not await self._store.runs.interrupt(thread_id, run_id, partial):
            return False
        last = events[-1].seq if events else -1
        end: dict[str, object] = {
            "run_id": run_id,
            "thread_id": thread_id,
            "status": RunStatus.INTERRUPTED.value,
            "finish_reason": "cancelled",
            "usage": None,
        }
        await self._store.run_events.append([RunEvent(run_id, last + 1, "end", end)])
        log.warning("run_interrupted", run_id=run_id, thread_id=thread_id, kept=bool(partial))
        return True
