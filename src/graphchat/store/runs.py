"""Runs and the writes of a chat turn: each turn is a few INSERTs plus one-row UPDATEs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphchat.errors import DuplicateRun, NotFound, ThreadBusy
from graphchat.store.branches import BranchPoint, set_leaf
from graphchat.store.database import transaction
from graphchat.store.messages import append_messages
from graphchat.store.records import (
    Message,
    MessageStatus,
    NewMessage,
    Page,
    Run,
    RunStatus,
    Thread,
)
from graphchat.store.tables import RunRow, ThreadRow
from graphchat.store.threads import (
    insert_thread,
    select_thread,
    thread_id_taken,
    thread_not_found,
    utcnow,
)

_RUN = cast(Table, RunRow.__table__)
_THREAD = cast(Table, ThreadRow.__table__)
_INTERNAL_COLUMNS = {"worker_id", "heartbeat_at", "cancel_requested_at"}
_RUN_COLUMNS = tuple(c.name for c in _RUN.columns if c.name not in _INTERNAL_COLUMNS)
TITLE_LENGTH = 80


def run_from_row(row: Row[Any]) -> Run:
    values = {name: row._mapping[name] for name in _RUN_COLUMNS}
    values["status"] = RunStatus(values["status"])
    return Run(**values)


def title_from(text: str) -> str:
    """A thread title from the start of its first message."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class NewRun:
    id: str
    owner: str
    thread_id: str
    model: str | None
    params: dict[str, Any]
    worker_id: str
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStart:
    thread: Thread
    run: Run
    messages: list[Message]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: RunStatus
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None  # what a `requires_action` run waits for


# Why the pending calls of a pause that was closed unanswered never ran (the model reads it).
NEW_TURN_REASON = "the user sent a new message instead of deciding on this call"
CANCEL_REASON = "the run was cancelled before this call was approved"


async def _close_pauses(
    connection: AsyncConnection, reason: str, *, thread_id: str, run_id: str | None = None
) -> list[str]:
    """Cancel the thread's paused run(s), answering each pending call with an error message.

    The answers keep the log valid for backends that refuse a tool call left unanswered.
    """
    where = [_RUN.c.thread_id == thread_id, _RUN.c.status == RunStatus.REQUIRES_ACTION.value]
    if run_id is not None:
        where.append(_RUN.c.id == run_id)
    ids = []
    for row in (await connection.execute(select(_RUN.c.id, _RUN.c.pending).where(*where))).all():
        closed = await connection.execute(
            update(_RUN)
            .where(_RUN.c.id == row.id, _RUN.c.status == RunStatus.REQUIRES_ACTION.value)
            .values(status=RunStatus.CANCELLED.value, finished_at=utcnow(), pending=None)
        )
        if not closed.rowcount:
            continue  # resumed or closed by another request meanwhile
        ids.append(row.id)
        answers = [
            NewMessage(
                role="tool",
                content=f"Error: not run: {reason}",
                tool_call_id=call.get("id"),
                name=call.get("name"),
                status=MessageStatus.ERROR,
            )
            for call in (row.pending or {}).get("calls", ())
        ]
        await append_messages(connection, thread_id, row.id, answers)
    return ids


async def _thread_for_turn(
    connection: AsyncConnection, run: NewRun, create_missing: bool
) -> Thread:
    thread = await select_thread(connection, run.owner, run.thread_id)
    if thread is not None:
        return thread
    if not create_missing or await thread_id_taken(connection, run.thread_id):
        raise thread_not_found(run.thread_id)
    return await insert_thread(
        connection,
        owner=run.owner,
        thread_id=run.thread_id,
        title=None,
        model=None,
        metadata={},
    )


class RunRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def begin_turn(
        self,
        run: NewRun,
        messages: Sequence[NewMessage],
        *,
        create_thread: bool = True,
        fallback_model: str | None = None,
        last_seq: int | None = None,
        branch: BranchPoint | None = None,
    ) -> TurnStart:
        """Store the caller's messages and a running run in one transaction.

        The run's model is the one asked for, else the thread's, else `fallback_model`.
        With `last_seq`, the messages must directly follow that one (else `ThreadBusy`).
        With `branch`, the turn starts a new branch there (regenerate, edit) instead of
        continuing the current one.

        Raises `ThreadBusy` when the thread already has a running run (a unique index
        enforces this across processes), `NotFound` for another owner's thread.
        """
        try:
            async with transaction(self._engine, write=True) as connection:
                await self._refuse_duplicate(connection, run)
                thread = await _thread_for_turn(connection, run, create_thread)
                await _close_pauses(connection, NEW_TURN_REASON, thread_id=thread.id)
                if branch is not None:
                    await set_leaf(connection, thread.id, branch.parent_id)
                model = run.model or thread.model or fallback_model
                stored_run = await self._insert_run(connection, replace(run, model=model))
                stored = await append_messages(connection, thread.id, run.id, messages, last_seq)
                thread = await self._touch_thread(connection, thread, stored)
        except IntegrityError as exc:
            if run.idempotency_key is not None:
                async with transaction(self._engine) as connection:
                    await self._refuse_duplicate(connection, run)
            raise ThreadBusy(
                f"thread '{run.thread_id}' is already answering; wait for that run to finish",
            ) from exc
        return TurnStart(thread=thread, run=stored_run, messages=stored)

    async def _refuse_duplicate(self, connection: AsyncConnection, run: NewRun) -> None:
        if run.idempotency_key is None:
            return
        existing = await self._by_key(connection, run.owner, run.idempotency_key)
        if existing is not None:
            raise DuplicateRun("this Idempotency-Key was already used", run_id=existing.id)

    async def _by_key(self, connection: AsyncConnection, owner: str, key: str) -> Run | None:
        row = (
            await connection.execute(
                select(_RUN).where(_RUN.c.owner == owner, _RUN.c.idempotency_key == key)
            )
        ).first()
        return run_from_row(row) if row is not None else None

    async def active(self, thread_id: str) -> Run | None:
        """The thread's running run, if any."""
        query = select(_RUN).where(
            _RUN.c.thread_id == thread_id, _RUN.c.status == RunStatus.RUNNING.value
        )
        async with transaction(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return run_from_row(row) if row is not None else None

    async def by_id(self, run_id: str) -> Run | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(_RUN).where(_RUN.c.id == run_id))).first()
        return run_from_row(row) if row is not None else None

    async def heartbeat(self, worker_id: str) -> list[str]:
        """Mark this worker's runs alive; returns the ids of those asked to cancel."""
        mine = (_RUN.c.worker_id == worker_id) & (_RUN.c.status == RunStatus.RUNNING.value)
        async with transaction(self._engine, write=True) as connection:
            await connection.execute(update(_RUN).where(mine).values(heartbeat_at=utcnow()))
            rows = await connection.execute(
                select(_RUN.c.id).where(mine, _RUN.c.cancel_requested_at.is_not(None))
            )
            return [row.id for row in rows]

    async def request_cancel(self, run_id: str) -> bool:
        """Ask the process executing a run to cancel it; False if it is not running."""
        async with transaction(self._engine, write=True) as connection:
            result = await connection.execute(
                update(_RUN)
                .where(_RUN.c.id == run_id, _RUN.c.status == RunStatus.RUNNING.value)
                .values(cancel_requested_at=utcnow())
            )
        return bool(result.rowcount)

    async def running(self) -> list[tuple[str, str, str | None, datetime | None]]:
        """(run id, thread id, worker id, last heartbeat) of every running run."""
        query = select(_RUN.c.id, _RUN.c.thread_id, _RUN.c.worker_id, _RUN.c.heartbeat_at).where(
            _RUN.c.status == RunStatus.RUNNING.value
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [(row.id, row.thread_id, row.worker_id, row.heartbeat_at) for row in rows]

    async def interrupt(self, thread_id: str, run_id: str, partial: NewMessage | None) -> bool:
        """Close a run whose process died, keeping what it had said; False if already closed."""
        now = utcnow()
        async with transaction(self._engine, write=True) as connection:
            result = await connection.execute(
                update(_RUN)
                .where(_RUN.c.id == run_id, _RUN.c.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.INTERRUPTED.value, finished_at=now)
            )
            if not result.rowcount:
                return False
            if partial is not None:
                await append_messages(connection, thread_id, run_id, [partial])
            await connection.execute(
                update(_THREAD).where(_THREAD.c.id == thread_id).values(updated_at=now)
            )
        return True

    async def append(
        self,
        thread_id: str,
        run_id: str,
        messages: Sequence[NewMessage],
        last_seq: int | None = None,
    ) -> list[Message]:
        """Messages produced during a run (assistant tool calls, tool results)."""
        async with transaction(self._engine, write=True) as connection:
            stored = await append_messages(connection, thread_id, run_id, messages, last_seq)
            await connection.execute(
                update(_THREAD).where(_THREAD.c.id == thread_id).values(updated_at=utcnow())
            )
        return stored

    async def finish(
        self,
        thread_id: str,
        run_id: str,
        outcome: RunOutcome,
        messages: Sequence[NewMessage] = (),
        last_seq: int | None = None,
    ) -> list[Message]:
        """Store the run's last messages and its final status together."""
        now = utcnow()
        async with transaction(self._engine, write=True) as connection:
            touched = await connection.execute(
                update(_THREAD).where(_THREAD.c.id == thread_id).values(updated_at=now)
            )
            if not touched.rowcount:
                return []  # deleted while the run was active: nothing left to record
            stored = await append_messages(connection, thread_id, run_id, messages, last_seq)
            await connection.execute(
                update(_RUN)
                .where(_RUN.c.id == run_id)
                .values(
                    status=outcome.status.value,
                    finished_at=now,
                    prompt_tokens=outcome.prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                    error=outcome.error,
                    pending=outcome.pending,
                )
            )
        return stored

    async def resume(self, run: Run, worker_id: str) -> bool:
        """Set a paused run running again; False if it is no longer paused.

        Raises `ThreadBusy` when another run is active on the thread (the unique index).
        """
        now = utcnow()
        try:
            async with transaction(self._engine, write=True) as connection:
                result = await connection.execute(
                    update(_RUN)
                    .where(_RUN.c.id == run.id, _RUN.c.status == RunStatus.REQUIRES_ACTION.value)
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
        async with transaction(self._engine, write=True) as connection:
            closed = await _close_pauses(
                connection, CANCEL_REASON, thread_id=run.thread_id, run_id=run.id
            )
        return bool(closed)

    async def get(self, owner: str, thread_id: str, run_id: str) -> Run:
        query = select(_RUN).where(
            _RUN.c.id == run_id, _RUN.c.thread_id == thread_id, _RUN.c.owner == owner
        )
        async with transaction(self._engine) as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            raise NotFound(f"run '{run_id}' was not found", code="run_not_found")
        return run_from_row(row)

    async def page(
        self, thread_id: str, *, limit: int, offset: int = 0, status: RunStatus | None = None
    ) -> Page[Run]:
        query = select(_RUN).where(_RUN.c.thread_id == thread_id)
        if status is not None:
            query = query.where(_RUN.c.status == status.value)
        query = query.order_by(_RUN.c.created_at.desc(), _RUN.c.id).limit(limit + 1).offset(offset)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return Page(items=[run_from_row(row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def _insert_run(self, connection: AsyncConnection, run: NewRun) -> Run:
        now = utcnow()
        values = {
            "id": run.id,
            "thread_id": run.thread_id,
            "owner": run.owner,
            "status": RunStatus.RUNNING.value,
            "model": run.model,
            "params": run.params,
            "idempotency_key": run.idempotency_key,
            "request_hash": run.request_hash,
            "worker_id": run.worker_id,
            "created_at": now,
            "started_at": now,
            "heartbeat_at": now,
        }
        await connection.execute(insert(_RUN).values(values))
        return Run(
            id=run.id,
            thread_id=run.thread_id,
            owner=run.owner,
            status=RunStatus.RUNNING,
            model=run.model,
            params=run.params,
            created_at=now,
            started_at=now,
            idempotency_key=run.idempotency_key,
            request_hash=run.request_hash,
        )

    async def _touch_thread(
        self, connection: AsyncConnection, thread: Thread, stored: list[Message]
    ) -> Thread:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if thread.title is None:
            first_user = next((m.content for m in stored if m.role == "user" and m.content), None)
            if first_user:
                values["title"] = title_from(first_user)
        await connection.execute(update(_THREAD).where(_THREAD.c.id == thread.id).values(values))
        return Thread(
            id=thread.id,
            owner=thread.owner,
            title=values.get("title", thread.title),
            model=thread.model,
            metadata=thread.metadata,
            created_at=thread.created_at,
            updated_at=values["updated_at"],
        )
