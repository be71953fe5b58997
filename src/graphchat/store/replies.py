"""The response cache's table, `cached_replies`: replicas sharing the database share the cache."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.store.database import read_row, run_transaction, transaction
from graphchat.store.tables import REPLIES
from graphchat.store.threads import utcnow


class ReplyRepository:
    """Cached model replies by key; expired rows are never returned and pruned on write."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock  # expiry is decided against it, so tests need not wait out a TTL

    async def get(self, key: str) -> dict[str, Any] | None:
        """The unexpired reply stored under `key` (counting the hit), or None."""
        unexpired = REPLIES.c.key == key, REPLIES.c.expires_at > self._clock()
        found = await read_row(self._engine, select(REPLIES.c.reply).where(*unexpired))
        if found is None:
            return None
        hit = update(REPLIES).where(REPLIES.c.key == key).values(hits=REPLIES.c.hits + 1)
        await run_transaction(self._engine, lambda c: c.execute(hit), write=True, autocommit=True)
        return dict(found.reply)

    async def put(
        self, key: str, model: str, reply: dict[str, Any], *, ttl_seconds: float, max_entries: int
    ) -> None:
        """Store (or replace) a reply, then drop expired rows and the oldest beyond the bound."""
        now = self._clock()
        row = {
            "key": key,
            "model": model,
            "reply": reply,
            "hits": 0,
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        }
        try:  # in a worker thread (on SQLite): the bound's DELETE reads the whole table's index
            async with transaction(self._engine, write=True) as connection:
                await connection.execute(delete(REPLIES).where(REPLIES.c.key == key))
                await connection.execute(insert(REPLIES), [row])
                await connection.execute(delete(REPLIES).where(REPLIES.c.expires_at <= now))
                oldest = (
                    select(REPLIES.c.key)
                    .order_by(REPLIES.c.expires_at.desc(), REPLIES.c.key)
                    .offset(max_entries)
                )
                await connection.execute(delete(REPLIES).where(REPLIES.c.key.in_(oldest)))
        except IntegrityError:
            pass  # another replica stored the same reply at the same moment
