"""PostgreSQL: statistics for tables that are still young, so a turn's kept plans use indexes.

A pooled session plans a statement it runs again (a turn's begin and finish) once and keeps the
plan until the tables' statistics change. On a new database the statistics say the tables are
empty, so the kept plans scan: every turn on a thread read all of the thread's messages for
its highest sequence number and all of its runs for a paused one, and cost more as the thread
grew (EXPLAIN ANALYZE after 1,900 turns: a sequential scan of 2,318 messages; the begin statement
went from 0.8 to 1.25 ms). Autovacuum analyzes a table at its next round, a minute apart by
default. A process analyzes the tables a turn writes itself as it writes them: after its 100th,
1,000th and 10,000th turn, when PostgreSQL still estimates fewer messages than the number of
turns this process has begun.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

CHECK_AFTER_TURNS = (100, 1_000, 10_000)
_ESTIMATE = "SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass"
_ANALYZE = "ANALYZE threads, messages, runs, run_events"


class YoungTables:
    """Counts the turns this process begins; analyzes the turn tables at `CHECK_AFTER_TURNS`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._enabled = engine.dialect.name == "postgresql"
        self._turns = 0
        self._check: asyncio.Task[None] | None = None

    def turn_begun(self) -> None:
        if not self._enabled:
            return
        self._turns += 1
        if self._turns in CHECK_AFTER_TURNS and self._check is None:
            self._check = asyncio.get_running_loop().create_task(self._refresh(self._turns))
            self._check.add_done_callback(self._checked)

    async def _refresh(self, turns: int) -> None:
        # On the driver's connection: not a statement of the turn's (nor of its statement count).
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None  # connected
            estimate = await driver.fetchval(_ESTIMATE)
            if estimate is not None and estimate >= turns:
                return  # every turn wrote a message: the statistics have caught up
            await driver.execute(_ANALYZE)
        log.info("young_tables_analyzed", turns=turns, estimated_messages=estimate)

    def _checked(self, done: asyncio.Task[None]) -> None:
        self._check = None
        if not done.cancelled() and done.exception() is not None:
            # Only plans stay worse until autovacuum analyzes the tables; turns go on.
            log.warning("young_tables_not_analyzed", error=str(done.exception()))

    async def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
            await asyncio.wait([self._check])
