"""Durable run events: written in batches, read back to rejoin a stream, pruned after retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import orjson
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.store.database import transaction
from graphchat.store.tables import RunEventRow
from graphchat.store.threads import utcnow

_EVENT = cast(Table, RunEventRow.__table__)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    run_id: str
    seq: int
    event: str
    data: dict[str, object]


class RunEventRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(self, events: Sequence[StoredEvent]) -> None:
        """Insert a batch of events (of any runs) in one transaction."""
        if not events:
            return
        now = utcnow()
        rows = [
            {
                "run_id": event.run_id,
                "seq": event.seq,
                "event": event.event,
                "data": orjson.dumps(event.data).decode(),
                "created_at": now,
            }
            for event in events
        ]
        async with transaction(self._engine, write=True) as connection:
            await connection.execute(insert(_EVENT), rows)

    async def after(self, run_id: str, seq: int, *, limit: int = 500) -> list[StoredEvent]:
        """The run's events with a sequence number above `seq`, in order."""
        query = (
            select(_EVENT.c.seq, _EVENT.c.event, _EVENT.c.data)
            .where(_EVENT.c.run_id == run_id, _EVENT.c.seq > seq)
            .order_by(_EVENT.c.seq)
            .limit(limit)
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [StoredEvent(run_id, row.seq, row.event, orjson.loads(row.data)) for row in rows]

    async def next_seq(self, run_id: str) -> int:
        """The sequence number after the run's last stored event (a resumed run goes on)."""
        query = select(func.max(_EVENT.c.seq)).where(_EVENT.c.run_id == run_id)
        async with transaction(self._engine) as connection:
            last = (await connection.execute(query)).scalar_one_or_none()
        return 0 if last is None else int(last) + 1

    async def prune(self, older_than: datetime) -> int:
        async with transaction(self._engine, write=True) as connection:
            result = await connection.execute(
                delete(_EVENT).where(_EVENT.c.created_at < older_than)
            )
        return int(result.rowcount or 0)
