"""Runs and the writes of a chat turn: each turn is a few INSERTs plus one-row UPDATEs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphchat.errors import DuplicateRun, NotFound, ThreadBusy
from graphchat.store.branches import BranchPoint
from graphchat.store.database import run_transaction, transaction
from graphchat.store.known_turn import begin_known_turn
from graphchat.store.messages import append_messages, message_rows
from graphchat.store.pauses import CANCEL_REASON, close_pauses
from graphchat.store.records import (
    Message,
    NewMessage,
    NewRun,
    NewThread,
    Page,
    Run,
    RunEvent,
    RunOutcome,
    RunStatus,
    Tail,
    TurnRules,
    TurnStart,
)
from graphchat.store.tables import RUNS
from graphchat.store.threads import (
    created_thread,
    thread_from_row,
    thread_not_found,
    thread_values,
    utcnow,
)
from graphchat.store.turn_reads import THREAD_AND_PAUSE, NeedsTransaction, continued
from graphchat.store.turn_writes import (
    RUN_COLUMNS,
    WriteHook,
    announce,
    append_to_run,
    finish_run,
    start_turn,
    started_run,
)
from graphchat.store.window_cache import WindowCache


def run_from_row(row: Row[Any]) -> Run:
    mapping = row._mapping  # a property that builds a new mapping on each access
    values = {name: mapping[name] for name in RUN_COLUMNS}
    values["status"] = RunStatus(values["status"])
    return Run(**values)


_UNREAD: Any = object()


class RunRepository:
    def __init__(self, engine: AsyncEngine, windows: WindowCache) -> None:
        self._engine = engine
        self._windows = windows

    @property
    def writes_wait(self) -> bool:
        """Whether a write leaves the event loop waiting on a round trip (PostgreSQL), which
        work started before it can fill; a SQLite file is written on the loop's own thread."""
        return self._engine.dialect.name != "sqlite"

    async def begin_turn(
        self,
        run: NewRun,
        messages: Sequence[NewMessage],
        rules: TurnRules,
        *,
        create_thread: bool = True,
        last_seq: int | None = None,
        history: int = 0,
        branch: BranchPoint | None = None,
        new_thread_id: bool = False,
        on_write: WriteHook | None = None,
    ) -> TurnStart:
        """Store the caller's messages and a running run: reads, INSERTs and an UPDATE on
        SQLite; on PostgreSQL turn_writes.py, or known_turn.py's one statement on a thread
        this process answered last.

        With `last_seq`, the messages must directly follow that one; with `branch`, the turn
        starts a new branch there (regenerate, edit); with `new_thread_id`, the caller made the
        thread's id (a new UUID), so none is read. `on_write` (`WriteHook`) gets each turn about
        to be written where writes wait (`writes_wait`) before it is sent; only the one returned
        was stored. Raises `ThreadBusy` (a unique index), `NotFound`, `DuplicateRun`.
        """
        on_write = on_write if self.writes_wait else None  # else nothing to overlap

        def begin(connection: Connection, read: Any = _UNREAD) -> TurnStart:
            if new_thread_id and create_thread:
                read = None  # nothing to read: the new thread's INSERT refuses a taken id
            elif read is _UNREAD and branch is None:
                known = begin_known_turn(
                    connection, self._windows, run, messages, rules, history, last_seq, on_write
                )
                if known is not None:
                    return known
            return self._begin(
                connection,
                read,
                run,
                messages,
                rules,
                create_thread=create_thread,
                last_seq=last_seq,
                history=history,
                branch=branch,
                on_write=on_write,
            )

        start = await self._stored(begin, run)
        self._windows.start(start.thread, start.history or start.messages[-1:], max(history, 1))
        return start

    async def _stored(self, begin: Callable[..., TurnStart], run: NewRun) -> TurnStart:
        try:
            try:
                # Every statement its own transaction (PostgreSQL): see `begin_turn`.
                return await run_transaction(self._engine, begin, write=True, autocommit=True)
            except NeedsTransaction as needs:
                read = needs.row
                return await run_transaction(
                    self._engine, lambda c: begin(c, read), write=True, keyed=True
                )
        except IntegrityError as exc:
            if run.idempotency_key is not None:
                async with transaction(self._engine) as connection:
                    await self._refuse_duplicate(connection, run)
            raise ThreadBusy(
                f"thread '{run.thread_id}' is already answering; wait for that run to finish",
            ) from exc

    def _begin(
        self,
        connection: Connection,
        read: Row[Any] | None,
        run: NewRun,
        messages: Sequence[NewMessage],
        rules: TurnRules,
        *,
        create_thread: bool,
        last_seq: int | None,
        history: int,
        branch: BranchPoint | None,
        on_write: WriteHook | None,
    ) -> TurnStart:
        row = read
        if row is _UNREAD:  # not already read outside the transaction
            row = connection.execute(THREAD_AND_PAUSE, {"thread_id": run.thread_id}).first()
        if row is not None and row.owner != run.owner:
            raise thread_not_found(run.thread_id)
        if row is None and not create_thread:
            raise thread_not_found(run.thread_id)
        before: list[Message] = []
        tail = Tail(0, None)
        if row is not None:
            before, tail = continued(connection, row, branch, history, self._windows)
        if last_seq is not None and last_seq != (before[-1].seq if before else 0):
            raise ThreadBusy(f"thread '{run.thread_id}' changed meanwhile; try again")
        stored = message_rows(run.thread_id, run.id, messages, tail)
        leaf_id = stored[-1].id if stored else tail.leaf_id
        recent = (before + stored)[-history:] if history else []
        after = Tail(stored[-1].seq, leaf_id) if stored else tail
        if row is None:
            new = NewThread(id=run.thread_id, owner=run.owner, title=rules.title(None, messages))
            thread = created_thread(new)
            stored_run, run_values = started_run(run, rules.model(thread.model))
            start = TurnStart(thread, stored_run, stored, history=recent, tail=after)
            announce(on_write, start, likely=True)  # a new thread: nothing of it can be stale
            start_turn(connection, run_values, stored, new_thread=thread_values(thread, leaf_id))
            return start
        thread = thread_from_row(row)
        stored_run, run_values = started_run(run, rules.model(thread.model))
        title = rules.title(thread.title, messages)
        thread = replace(thread, title=title, updated_at=utcnow())
        changes: dict[str, Any] = {"updated_at": thread.updated_at, "leaf_message_id": leaf_id}
        if title != row.title:
            changes["title"] = title
        start = TurnStart(thread, stored_run, stored, history=recent, tail=after)
        announce(on_write, start)
        start_turn(connection, run_values, stored, thread_update=changes)
        return start

    async def _refuse_duplicate(self, connection: AsyncConnection, run: NewRun) -> None:
        if run.idempotency_key is None:
            return
        existing = await self._by_key(connection, run.owner, run.idempotency_key)
        if existing is not None:
            raise DuplicateRun("this Idempotency-Key was already used", run_id=existing.id)

    async def _by_key(self, connection: AsyncConnection, owner: str, key: str) -> Run | None:
        row = (
            await connection.execute(
                select(RUNS).where(RUNS.c.owner == owner, RUNS.c.idempotency_key == key)
            )
        ).first()
        return run_from_row(row) if row is not None else None

    async def active(self, thread_id: str) -> Run | None:
        """The thread's running run, if any."""
        running = RUNS.c.status == RunStatus.RUNNING.value
        return await self._first(select(RUNS).where(RUNS.c.thread_id == thread_id, running))

    async def by_id(self, run_id: str) -> Run | None:
        return await self._first(select(RUNS).where(RUNS.c.id == run_id))

    async def _first(self, query: Any) -> Run | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return run_from_row(row) if row is not None else None

    async def heartbeat(self, worker_id: str) -> list[str]:
        """Mark this worker's runs alive; returns the ids of those asked to cancel."""
        mine = (RUNS.c.worker_id == worker_id) & (RUNS.c.status == RunStatus.RUNNING.value)
        async with transaction(self._engine, write=True) as connection:
            await connection.execute(update(RUNS).where(mine).values(heartbeat_at=utcnow()))
            rows = await connection.execute(
                select(RUNS.c.id).where(mine, RUNS.c.cancel_requested_at.is_not(None))
            )
            return [row.id for row in rows]

    async def request_cancel(self, run_id: str) -> bool:
        """Ask the process executing a run to cancel it; False if it is not running."""
        async with transaction(self._engine, write=True) as connection:
            result = await connection.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == RunStatus.RUNNING.value)
                .values(cancel_requested_at=utcnow())
            )
        return bool(result.rowcount)

    async def running(self) -> list[tuple[str, str, str | None, datetime | None]]:
        """(run id, thread id, worker id, last heartbeat) of every running run."""
        query = select(RUNS.c.id, RUNS.c.thread_id, RUNS.c.worker_id, RUNS.c.heartbeat_at).where(
            RUNS.c.status == RunStatus.RUNNING.value
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [(row.id, row.thread_id, row.worker_id, row.heartbeat_at) for row in rows]

    async def interrupt(self, thread_id: str, run_id: str, partial: NewMessage | None) -> bool:
        """Close a run whose process died, keeping what it had said; False if already closed."""

        def body(connection: Connection) -> bool:
            now = utcnow()
            result = connection.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == RunStatus.RUNNING.value)
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
        finished = await run_transaction(
            self._engine,
            lambda c: finish_run(c, thread_id, run_id, outcome, messages, events),
            write=True,
            autocommit=True,
        )
        if finished:
            self._windows.extend(messages)
        return finished

    async def resume(self, run: Run, worker_id: str) -> bool:
        """Set a paused run running again; False if it is no longer paused.

        Raises `ThreadBusy` when another run is active on the thread (the unique index).
        """
        now = utcnow()
        try:
            async with transaction(self._engine, write=True) as connection:
                result = await connection.execute(
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
        except IntegrityError as exc:
            raise ThreadBusy(f"thread '{run.thread_id}' is answering another turn") from exc
        return bool(result.rowcount)

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
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return Page(items=[run_from_row(row) for row in rows[:limit]], has_more=len(rows) > limit)
