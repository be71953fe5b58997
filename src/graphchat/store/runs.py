"""Runs: a turn's begin (turn_begin.py), its tool messages and finish, and the runs' states."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, literal_column, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from graphchat.errors import NotFound, ThreadBusy
from graphchat.store.database import changed_rows, read_row, read_rows, run_transaction
from graphchat.store.messages import append_messages, current_window
from graphchat.store.pauses import CANCEL_REASON, close_pauses
from graphchat.store.records import (
    Message,
    NewMessage,
    Page,
    Run,
    RunEvent,
    RunOutcome,
    RunStatus,
    Tail,
)
from graphchat.store.tables import RUNS
from graphchat.store.threads import utcnow
from graphchat.store.turn_begin import TurnBegin
from graphchat.store.turn_writes import RUN_COLUMNS, append_to_run, finish_run

# The status written into the statement, as `PAUSED` (store/pauses.py): a plan PostgreSQL reuses
# (keyed statements, the monitor's too) then knows it looks for a rare status.
_RUNNING = RUNS.c.status == literal_column(f"'{RunStatus.RUNNING.value}'")
# A thread's newest run, as `page` orders them.
_LATEST = (
    select(RUNS)
    .where(RUNS.c.thread_id == bindparam("thread_id"))
    .order_by(RUNS.c.created_at.desc(), RUNS.c.id)
    .limit(1)
)


def run_from_row(row: Row[Any]) -> Run:
    mapping = row._mapping  # a property that builds a new mapping on each access
    values = {name: mapping[name] for name in RUN_COLUMNS}
    values["status"] = RunStatus(values["status"])
    return Run(**values)


class RunRepository(TurnBegin):
    async def active(self, thread_id: str) -> Run | None:
        """The thread's running run, if any."""
        return await self._first(select(RUNS).where(RUNS.c.thread_id == thread_id, _RUNNING))

    async def latest_with_branch(
        self, thread_id: str, limit: int
    ) -> tuple[Run | None, list[Message]]:
        """The thread's newest run and the last `limit` messages of its current branch (oldest
        first), in one call: what a thread's status, state and pause are made of."""

        def read(connection: Connection) -> tuple[Run | None, list[Message]]:
            row = connection.execute(_LATEST, {"thread_id": thread_id}).first()
            run = run_from_row(row) if row is not None else None
            return run, current_window(connection, thread_id, limit)

        return await run_transaction(self._engine, read, autocommit=True)

    async def by_id(self, run_id: str) -> Run | None:
        return await self._first(select(RUNS).where(RUNS.c.id == run_id))

    async def _first(self, query: Any) -> Run | None:
        """One run found by key: its id, or its thread's one running run."""
        row = await read_row(self._engine, query)
        return run_from_row(row) if row is not None else None

    async def heartbeat(self, worker_id: str) -> list[str]:
        """Mark this worker's runs alive; returns the ids of those asked to cancel.

        One keyed statement (autocommit on PostgreSQL): as a transaction it took four round
        trips every few seconds and switched its pooled session to custom plans, which the
        next turn on that connection switched back with a round trip of its own."""
        beat = (
            update(RUNS)
            .where(RUNS.c.worker_id == worker_id, _RUNNING)
            .values(heartbeat_at=utcnow())
            .returning(RUNS.c.id, RUNS.c.cancel_requested_at)
        )
        rows = await run_transaction(
            self._engine, lambda c: c.execute(beat).all(), write=True, autocommit=True
        )
        return [row.id for row in rows if row.cancel_requested_at is not None]

    async def request_cancel(self, run_id: str) -> bool:
        """Ask the process executing a run to cancel it; False if it is not running."""
        asked = (
            update(RUNS).where(RUNS.c.id == run_id, _RUNNING).values(cancel_requested_at=utcnow())
        )
        return bool(await changed_rows(self._engine, asked, autocommit=True))

    async def running(self) -> list[tuple[str, str, str | None, datetime | None]]:
        """(run id, thread id, worker id, last heartbeat) of every running run."""
        query = select(RUNS.c.id, RUNS.c.thread_id, RUNS.c.worker_id, RUNS.c.heartbeat_at).where(
            _RUNNING
        )
        # A short read, keyed (the status's index): the monitor's tick leaves the session's plan
        # mode as the turns use it.
        rows = await run_transaction(self._engine, lambda c: c.execute(query).all(), short=True)
        return [(row.id, row.thread_id, row.worker_id, row.heartbeat_at) for row in rows]

    async def interrupt(self, thread_id: str, run_id: str, partial: NewMessage | None) -> bool:
        """Close a run whose process died, keeping what it had said; False if already closed."""

        def body(connection: Connection) -> bool:
            now = utcnow()
            result = connection.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, _RUNNING)
                .values(status=RunStatus.INTERRUPTED.value, finished_at=now)
            )
            if not result.rowcount:
                return False
            append_messages(connection, thread_id, run_id, [partial] if partial else [])
            return True

        return await run_transaction(self._engine, body, write=True)

    async def append(
        self,
        thread_id: str,
        run_id: str,
        messages: Sequence[NewMessage],
        after: Tail | None = None,
    ) -> list[Message]:
        """Messages produced during a run (assistant tool calls, tool results), after `after`
        (read in the same transaction when not given)."""
        if after is None:
            stored = await run_transaction(
                self._engine,
                lambda c: append_messages(c, thread_id, run_id, messages),
                write=True,
                keyed=True,
            )
        else:
            known = after
            stored = await run_transaction(
                self._engine,
                lambda c: append_to_run(c, thread_id, run_id, messages, known),
                write=True,
                autocommit=True,
            )
        self._windows.extend(stored)
        return stored

    async def finish(
        self,
        thread_id: str,
        run_id: str,
        outcome: RunOutcome,
        messages: Sequence[Message] = (),
        events: Sequence[RunEvent] = (),
    ) -> bool:
        """Store the run's last messages (built by `message_rows`), its final status and its
        events together: UPDATE thread, INSERT messages, UPDATE run, INSERT events.

        False when the thread was deleted while the run was active, `RunClosedElsewhere` when
        another replica closed it as interrupted meanwhile (either way nothing is stored).
        """
        finished = await finish_run(self._engine, thread_id, run_id, outcome, messages, events)
        if finished:
            self._windows.extend(messages)
        return finished

    async def resume(self, run: Run, worker_id: str) -> bool:
        """Set a paused run running again; False if it is no longer paused.

        Raises `ThreadBusy` when another run is active on the thread (the unique index).
        """
        now = utcnow()
        resumed = (
            update(RUNS)
            .where(RUNS.c.id == run.id, RUNS.c.status == RunStatus.REQUIRES_ACTION.value)
            .values(
                status=RunStatus.RUNNING.value,
                worker_id=worker_id,
                heartbeat_at=now,
                cancel_requested_at=None,
                finished_at=None,
            )
        )
        try:
            return bool(await changed_rows(self._engine, resumed, autocommit=True))
        except IntegrityError as exc:
            raise ThreadBusy(f"thread '{run.thread_id}' is answering another turn") from exc

    async def cancel_pause(self, run: Run) -> bool:
        """Cancel a paused run, answering its pending calls; False if it was not paused."""
        closed = await run_transaction(
            self._engine,
            lambda c: close_pauses(c, CANCEL_REASON, thread_id=run.thread_id, run_id=run.id),
            write=True,
        )
        return bool(closed)

    async def get(self, owner: str, thread_id: str, run_id: str) -> Run:
        ours = (RUNS.c.id == run_id) & (RUNS.c.thread_id == thread_id) & (RUNS.c.owner == owner)
        run = await self._first(select(RUNS).where(ours))
        if run is None:
            raise NotFound(f"run '{run_id}' was not found", code="run_not_found")
        return run

    async def page(
        self, thread_id: str, *, limit: int, offset: int = 0, status: RunStatus | None = None
    ) -> Page[Run, None]:
        query = select(RUNS).where(RUNS.c.thread_id == thread_id)
        if status is not None:
            query = query.where(RUNS.c.status == status.value)
        query = query.order_by(RUNS.c.created_at.desc(), RUNS.c.id).limit(limit + 1).offset(offset)
        rows = await read_rows(self._engine, query)
        return Page(items=[run_from_row(row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def paused_in(self, thread_ids: Sequence[str]) -> dict[str, Run]:
        """Each of these threads' newest run waiting for approval, by thread, in one read."""
        if not thread_ids:
            return {}
        waiting = RUNS.c.status == RunStatus.REQUIRES_ACTION.value
        query = (
            select(RUNS)
            .where(RUNS.c.thread_id.in_(thread_ids), waiting)
            .order_by(RUNS.c.created_at, RUNS.c.id.desc())  # the newest last: it stays
        )
        rows = await read_rows(self._engine, query)
        return {row.thread_id: run_from_row(row) for row in rows}
