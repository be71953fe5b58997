"""Durable run events: one row per run per flush holding a batch of events (`seq` to
`last_seq`), unpacked again to rejoin a stream, pruned after retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.json_text import dumps_text
from graphchat.store.awaited import send_alone
from graphchat.store.database import (
    changed_rows,
    read_row,
    read_rows,
    run_transaction,
)
from graphchat.store.driver_errors import refuse_unencodable
from graphchat.store.records import RunEvent
from graphchat.store.sent_alone import write_alone
from graphchat.store.tables import RUN_EVENTS
from graphchat.store.threads import utcnow


def as_json(value: object) -> str:
    """`value` as the JSON text of a column or a statement's rows parameter."""
    try:
        return dumps_text(value)
    except UnicodeEncodeError as error:  # half of a surrogate pair, which no UTF-8 text holds
        refuse_unencodable(error)
        raise


def batch_rows(events: Sequence[RunEvent]) -> list[dict[str, Any]]:
    """One row per run: its events in order, with the range of their sequence numbers."""
    now = utcnow()
    rows = []
    for run_id, group in groupby(events, key=lambda event: event.run_id):
        batch = list(group)
        rows.append(
            {
                "run_id": run_id,
                "seq": batch[0].seq,
                "last_seq": batch[-1].seq,
                "events": as_json([[e.seq, e.event, e.data] for e in batch]),
                "created_at": now,
            }
        )
    return rows


_INSERT_EVENTS = insert(RUN_EVENTS)  # built once, as a turn's statements are


def insert_events(connection: Connection, events: Sequence[RunEvent]) -> None:
    """One multi-row INSERT for events of any runs (each run's events contiguous, in order)."""
    if events:
        write_alone(connection, _INSERT_EVENTS, batch_rows(events))


class RunEventRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(self, events: Sequence[RunEvent]) -> None:
        """Insert a batch of events (of any runs): one statement, its own transaction."""
        if not events:
            return
        rows = batch_rows(events)
        if len(rows) == 1:  # one run streaming, the usual batch: on PostgreSQL, on the driver
            await send_alone(self._engine, _INSERT_EVENTS, rows[0])
            return
        # On PostgreSQL it needs no BEGIN and COMMIT around it.
        await run_transaction(
            self._engine,
            lambda c: write_alone(c, _INSERT_EVENTS, rows),
            write=True,
            autocommit=True,
        )

    async def after(self, run_id: str, seq: int, *, limit: int = 50) -> list[RunEvent]:
        """The run's events with a sequence number above `seq`, in order (`limit` batches)."""
        query = (
            select(RUN_EVENTS.c.events)
            .where(RUN_EVENTS.c.run_id == run_id, RUN_EVENTS.c.last_seq > seq)
            .order_by(RUN_EVENTS.c.seq)
            .limit(limit)
        )
        rows = await read_rows(self._engine, query)
        return [
            RunEvent(run_id, number, name, data)
            for row in rows
            for number, name, data in orjson.loads(row.events)
            if number > seq
        ]

    async def next_seq(self, run_id: str) -> int:
        """The sequence number after the run's last stored event (a resumed run goes on)."""
        query = select(func.max(RUN_EVENTS.c.last_seq)).where(RUN_EVENTS.c.run_id == run_id)
        row = await read_row(self._engine, query)  # one run's rows, by the primary key
        last = row[0] if row is not None else None
        return 0 if last is None else int(last) + 1

    async def prune(self, older_than: datetime) -> int:
        old = delete(RUN_EVENTS).where(RUN_EVENTS.c.created_at < older_than)
        return await changed_rows(self._engine, old, bulk=True)
