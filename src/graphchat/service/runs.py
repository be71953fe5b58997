"""Runs as resources: read, list, cancel, and follow a run's events from any process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from graphchat.errors import (
    GraphchatError,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from graphchat.service.events import RunEvent
from graphchat.service.live import LiveRuns
from graphchat.store import Store
from graphchat.store.records import Message, Page, Run, RunStatus, Thread

POLL_SECONDS = 0.1
CANCEL_WAIT_SECONDS = 15.0
_ERRORS_BY_CODE: dict[str, type[GraphchatError]] = {
    cls.code: cls for cls in (ModelNotFound, ProviderError, ProviderTimeout, ProviderUnavailable)
}


def error_of(run: Run) -> GraphchatError | None:
    """The domain error a failed run recorded, rebuilt for callers who replay it."""
    if run.status != RunStatus.ERROR:
        return None
    record = run.error or {}
    cls = _ERRORS_BY_CODE.get(str(record.get("code")), GraphchatError)
    error = cls(str(record.get("message", "the run failed")))
    error.code = str(record.get("code", error.code))
    return error


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run with the messages it stored."""

    run: Run
    input_messages: list[Message]
    output_messages: list[Message]
    window: list[Message] | None = None  # the branch before its outputs (`RunStream.window`)


class RunService:
    def __init__(self, store: Store, live_runs: LiveRuns) -> None:
        self._store = store
        self._live = live_runs

    async def get(self, thread: Thread, run_id: str) -> Run:
        return await self._store.runs.get(thread.owner, thread.id, run_id)

    async def page(
        self, thread: Thread, *, limit: int, offset: int = 0, status: RunStatus | None = None
    ) -> Page[Run, None]:
        return await self._store.runs.page(thread.id, limit=limit, offset=offset, status=status)

    async def cancel(self, run: Run, *, wait: bool) -> Run:
        """Stop a run wherever it executes; its partial answer is kept as `cancelled`.

        A paused run is closed at once, its pending calls answered as not run.
        """
        if run.status == RunStatus.REQUIRES_ACTION:
            await self._store.runs.cancel_pause(run)
            return await self._store.runs.get(run.owner, run.thread_id, run.id)
        if run.status.is_final:
            return run
        if not await self._live.cancel(run.id):
            await self._store.runs.request_cancel(run.id)
            if wait:
                return await self.wait_final(run, within=CANCEL_WAIT_SECONDS)
        return await self._store.runs.get(run.owner, run.thread_id, run.id)

    async def wait_final(self, run: Run, *, within: float | None = None) -> Run:
        """Wait until a run (of this or another process) has finished."""
        live = self._live.get(run.id)
        if live is not None:
            await live.wait()
            run = await self._store.runs.get(run.owner, run.thread_id, run.id)
        async with asyncio.timeout(within):
            while not run.status.is_final:
                await asyncio.sleep(POLL_SECONDS)
                run = await self._store.runs.get(run.owner, run.thread_id, run.id)
        return run

    async def result(self, run: Run) -> RunResult:
        """The finished run and its stored messages; raises the run's error if it failed."""
        run = await self.wait_final(run)
        error = error_of(run)
        if error is not None:
            raise error
        messages = await self._store.messages.of_run(run.id)
        return RunResult(
            run=run,
            input_messages=[m for m in messages if m.role == "user"],
            output_messages=[m for m in messages if m.role != "user"],
        )

    async def input_messages(self, run: Run) -> list[Message]:
        """The messages the caller gave the run."""
        return [m for m in await self._store.messages.of_run(run.id) if m.role == "user"]

    async def follow(self, run: Run, after: int = -1) -> AsyncIterator[RunEvent]:
        """The run's events after `after`: live here, else from the database until the end.

        A resumed run's events go on after its pause's `end`: that one is passed over when the
        run has been resumed since, so a rejoin follows the run to its real end.
        """
        live = self._live.get(run.id)
        # A run that has ended but whose task still winds down is live with nothing to follow
        # past its end: the database says how it ended.
        if live is not None and after + 1 >= live.first_seq and live.goes_on_after(after):
            async for event in live.follow(after):
                yield event
            return
        while True:
            batch = await self._store.run_events.after(run.id, after)
            for event in batch:
                after = event.seq
                if event.is_final and await self._resumed_since(run, event):
                    continue
                yield event
                if event.is_final:
                    return
            if batch:
                continue
            run = await self._store.runs.get(run.owner, run.thread_id, run.id)
            if run.status.is_final and not await self._store.run_events.after(run.id, after):
                yield self._closing_event(run, after + 1)
                return
            await asyncio.sleep(POLL_SECONDS)

    async def _resumed_since(self, run: Run, event: RunEvent) -> bool:
        """True for a pause's `end` event when the run has gone on since."""
        if event.data.get("status") != RunStatus.REQUIRES_ACTION.value:
            return False
        current = await self._store.runs.get(run.owner, run.thread_id, run.id)
        return current.status != RunStatus.REQUIRES_ACTION  # resumed, or cancelled: read on

    @staticmethod
    def _closing_event(run: Run, seq: int) -> RunEvent:
        """The final event of a run whose own final event was never written (a crash)."""
        error = error_of(run)
        if error is not None:
            return RunEvent(
                run.id,
                seq,
                "error",
                {"error": {"code": error.code, "message": error.message}, "run_id": run.id},
            )
        return RunEvent(
            run.id,
            seq,
            "end",
            {
                "run_id": run.id,
                "thread_id": run.thread_id,
                "status": run.status.value,
                "finish_reason": None,
                "usage": None,
            },
        )
