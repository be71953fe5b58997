"""The response cache's table, `cached_replies`: replicas sharing the database share the cache."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.store.database import run_transaction
from graphchat.store.tables import REPLIES
from graphchat.store.threads import utcnow


class ReplyRepository:
    """Cached model replies by key; expired rows are never returned and pruned on write."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock  # expiry is decided against it, so tests need not wait out a TTL

    async def get(self, key: str) -> dict[str, Any] | None:
        """The unexpired reply stored under `key` (counting the hit), or None."""
        hit = (
            update(REPLIES)
            .where(REPLIES.c.key == key, REPLIES.c.expires_at > self._clock())
            .values(hits=REPLIES.c.hits + 1)
            .returning(REPLIES.c.reply)
        )
        # One statement: found and counted (a round trip less on PostgreSQL).
        found = await run_transaction(
            self._engine,
            lambda connection: connection.execute(hit).first(),
            write=True,
            autocommit=True,
        )
        return None if found is None else dict(found.reply)

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
        oldest = (
            select(REPLIES.c.key)
            .order_by(REPLIES.c.expires_at.desc(), REPLIES.c.key)
            .offset(max_entries)
        )

        def store(connection: Connection) -> None:
            connection.execute(delete(REPLIES).where(REPLIES.c.key == key))
            connection.execute(insert(REPLIES), [row])
            connection.execute(delete(REPLIES).where(REPLIES.c.expires_at <= now))
            connection.execute(delete(REPLIES).where(REPLIES.c.key.in_(oldest)))

        # `bulk`: the bound's DELETE reads the table's index past `max_entries` rows.
        with contextlib.suppress(IntegrityError):  # another replica stored the same reply
            await run_transaction(self._engine, store, write=True, bulk=True)
