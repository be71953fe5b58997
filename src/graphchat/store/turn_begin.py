"""A turn's begin: the thread found or created, the run and the caller's messages stored, the
context window read, in one transaction (on PostgreSQL, one statement where it can be).

The turn is handed to `on_write` (`WriteHook`) before it is written, so the run's graph can
start on it meanwhile (service/head_start.py): on PostgreSQL every turn, while its round trip
leaves the event loop waiting; on SQLite, which writes on the loop's own thread, a turn planned
before its write that should land (known_turn.py), written once the model has been asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphchat.errors import DuplicateRun, LeafMoved, ThreadBusy
from graphchat.store.branches import BranchPoint
from graphchat.store.database import run_transaction, transaction
from graphchat.store.known_turn import (
    KnownTurn,
    begin_known_turn,
    continued_turn,
    plan_known_turn,
    plan_new_thread,
    write_continued,
    write_known_turn,
)
from graphchat.store.records import Message, NewMessage, NewRun, Tail, TurnRules, TurnStart
from graphchat.store.tables import RUNS
from graphchat.store.threads import thread_from_row, thread_not_found
from graphchat.store.turn_reads import NeedsTransaction, continued, read_thread
from graphchat.store.turn_writes import WriteHook, announce
from graphchat.store.window_cache import WindowCache

_UNREAD: Any = object()


class TurnBegin:
    def __init__(self, engine: AsyncEngine, windows: WindowCache) -> None:
        self._engine = engine
        self._windows = windows

    @property
    def writes_wait(self) -> bool:
        """Whether a write leaves the event loop waiting on a round trip (PostgreSQL), which
        work started before it can fill; a SQLite file is written on the loop's own thread."""
        return self._engine.dialect.name != "sqlite"

    def kept_leaf(self, owner: str, thread_id: str) -> int | None:
        """The sequence number of `owner`'s thread's leaf as this process last stored it, if it
        keeps the thread: a hint, which `begin_turn`'s `leaf_at` checks as it writes."""
        kept = self._windows.latest(thread_id, 1)
        if kept is None or kept[0].owner != owner:
            return None
        return kept[1][-1].seq

    async def begin_turn(
        self,
        run: NewRun,
        messages: Sequence[NewMessage],
        rules: TurnRules,
        *,
        create_thread: bool = True,
        last_seq: int | None = None,
        leaf_at: int | None = None,
        history: int = 0,
        branch: BranchPoint | None = None,
        new_thread_id: bool = False,
        on_write: WriteHook | None = None,
    ) -> TurnStart:
        """Store the caller's messages and a running run: on SQLite reads, INSERTs and an
        UPDATE, or on a thread this process answered last a guarded UPDATE and INSERTs; on
        PostgreSQL turn_writes.py, or known_turn.py's one statement on such a thread.

        With `last_seq`, the messages must directly follow that one (else `ThreadBusy`); with
        `leaf_at`, the branch's leaf must be that one (else `LeafMoved`); with `branch`, the turn
        starts a new branch there (regenerate, edit); with `new_thread_id`, the caller made the
        thread's id, so none is read. `on_write` (`WriteHook`) gets each turn about to be written
        before it is sent where writes wait (`writes_wait`); on SQLite only one planned before its
        write that should land, written once `until_waiting` returns. Only the turn returned was
        stored. Raises `ThreadBusy` (a unique index), `NotFound`, `DuplicateRun`."""
        tail_seq = last_seq if last_seq is not None else leaf_at
        new_thread = new_thread_id and create_thread
        planned = self._planned(run, messages, rules, history, tail_seq, branch, new_thread)
        known = None
        if not self.writes_wait:  # SQLite: planned before its write, announced if it should land
            await self._announce(planned, on_write)
            on_write = None
        else:  # PostgreSQL: the planned turn in one statement, sent first (known_turn.py)
            planned, known = None, planned
        begin = self._body(
            run,
            messages,
            rules,
            planned,
            create_thread=create_thread,
            last_seq=last_seq,
            leaf_at=leaf_at,
            history=history,
            branch=branch,
            new_thread_id=new_thread_id,
            on_write=on_write,
        )
        start = await self._stored(begin, run, known, on_write)
        self._windows.start(start.thread, start.history or start.messages[-1:], max(history, 1))
        return start

    def _planned(
        self,
        run: NewRun,
        messages: Sequence[NewMessage],
        rules: TurnRules,
        history: int,
        tail_seq: int | None,
        branch: BranchPoint | None,
        new_thread: bool,
    ) -> KnownTurn | None:
        """The turn as planned before anything is read: on a new thread, or on a thread as this
        process kept it (written only if it still is)."""
        if new_thread:
            return plan_new_thread(run, messages, rules, history)
        if branch is None:
            return plan_known_turn(self._windows, run, messages, rules, history, tail_seq)
        return None

    def _body(
        self,
        run: NewRun,
        messages: Sequence[NewMessage],
        rules: TurnRules,
        planned: KnownTurn | None,
        *,
        create_thread: bool,
        last_seq: int | None,
        leaf_at: int | None,
        history: int,
        branch: BranchPoint | None,
        new_thread_id: bool,
        on_write: WriteHook | None,
    ) -> Callable[..., TurnStart]:
        """Begin's transaction body: `planned` if still as planned, otherwise what it reads."""

        def begin(connection: Connection, read: Any = _UNREAD) -> TurnStart:
            if planned is not None:
                if write_known_turn(connection, self._windows, planned):
                    return planned.start
            elif new_thread_id and create_thread:
                read = None  # nothing to read: the new thread's INSERT refuses a taken id
            return self._begin(
                connection,
                read,
                run,
                messages,
                rules,
                create_thread=create_thread,
                last_seq=last_seq,
                leaf_at=leaf_at,
                history=history,
                branch=branch,
                on_write=on_write,
            )

        return begin

    async def _announce(self, planned: KnownTurn | None, on_write: WriteHook | None) -> None:
        """Hand `planned` to `on_write` if its write should land, and return once the work
        started on it waits: the write on this thread runs meanwhile."""
        if on_write is not None and planned is not None and planned.likely(self._windows):
            announce(on_write, planned.start, likely=True)
            await on_write.until_waiting()

    async def _stored(
        self,
        begin: Callable[..., TurnStart],
        run: NewRun,
        known: KnownTurn | None,
        on_write: WriteHook | None,
    ) -> TurnStart:
        try:
            if known is not None:
                started = await begin_known_turn(self._engine, self._windows, known, on_write)
                if started is not None:
                    return started
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
        leaf_at: int | None,
        history: int,
        branch: BranchPoint | None,
        on_write: WriteHook | None,
    ) -> TurnStart:
        row = read
        if row is _UNREAD:  # not already read outside the transaction
            row = read_thread(connection, run.thread_id)
        if row is not None and row.owner != run.owner:
            raise thread_not_found(run.thread_id)
        if row is None and not create_thread:
            raise thread_not_found(run.thread_id)
        before: list[Message] = []
        tail = Tail(0, None)
        if row is not None:
            before, tail = continued(connection, row, branch, history, self._windows)
        leaf_seq = before[-1].seq if before else 0
        if last_seq is not None and last_seq != leaf_seq:
            raise ThreadBusy(f"thread '{run.thread_id}' changed meanwhile; try again")
        if leaf_at is not None and leaf_at != leaf_seq:
            raise LeafMoved(f"thread '{run.thread_id}' no longer ends at message {leaf_at}")
        if row is None:
            new = plan_new_thread(run, messages, rules, history)
            announce(on_write, new.start, likely=True)  # a new thread: nothing of it can be stale
            write_known_turn(connection, self._windows, new)
            return new.start
        turn = continued_turn(thread_from_row(row), before, tail, run, messages, rules, history)
        announce(on_write, turn.start)
        write_continued(connection, turn)
        return turn.start

    async def _refuse_duplicate(self, connection: AsyncConnection, run: NewRun) -> None:
        if run.idempotency_key is None:
            return
        same_key = RUNS.c.owner == run.owner, RUNS.c.idempotency_key == run.idempotency_key
        existing = (await connection.execute(select(RUNS.c.id).where(*same_key))).scalar()
        if existing is not None:
            raise DuplicateRun("this Idempotency-Key was already used", run_id=existing)
