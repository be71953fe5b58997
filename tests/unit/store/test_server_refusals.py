"""A PostgreSQL server that refuses to serve for now (shutting down, starting up, out of
connections) is `StoreUnavailable`, as a lost connection is: a 503 for a request, a skipped
tick for the background loops, never a raw driver error."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.errors import StoreUnavailable
from graphchat.settings import Settings
from graphchat.store.database import create_engine, dispose, run_transaction
from support import pgcluster


async def _one(engine: AsyncEngine) -> int:
    return int(await run_transaction(engine, lambda c: c.execute(text("SELECT 1")).scalar_one()))


async def test_a_server_shutting_down_refuses_a_new_connection_as_unavailable(
    private_cluster: pgcluster.PrivateCluster,
) -> None:
    engine = create_engine(
        Settings(database_url=private_cluster.url, db_connect_timeout=5).database
    )
    session = await asyncpg.connect(private_cluster.url)  # keeps the smart shutdown waiting
    try:
        await asyncio.to_thread(private_cluster.begin_smart_stop)
        with pytest.raises(StoreUnavailable) as refused:
            await _one(engine)
        cause = refused.value.__cause__
        assert isinstance(cause, DBAPIError) and not cause.connection_invalidated
        assert getattr(cause.orig, "sqlstate", None) == "57P03"  # cannot connect now

        await session.close()
        await asyncio.to_thread(private_cluster.wait_stopped)
        await asyncio.to_thread(private_cluster.start)
        assert await _one(engine) == 1  # the same engine serves again
    finally:
        await session.close()
        await dispose(engine)
