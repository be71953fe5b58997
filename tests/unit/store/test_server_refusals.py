"""A PostgreSQL server that refuses to serve for now (shutting down, starting up, out of
connections) is `StoreUnavailable`, as a lost connection is: a 503 for a request, a skipped
tick for the background loops, never a raw driver error; at start-up, waited for."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from sqlalchemy import Connection, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from graphchat.api.errors import status_for
from graphchat.errors import StoreRefused, StoreUnavailable
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import create_engine, dispose, run_transaction
from graphchat.store.migrate import _PG_MIGRATION_LOCK
from support import pgcluster
from support.process import free_port


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


def _nothing_listening() -> str:
    return f"postgresql://graphchat:secret@127.0.0.1:{free_port()}/graphchat"


async def test_start_up_keeps_trying_a_database_that_does_not_answer_then_names_it() -> None:
    url = _nothing_listening()
    settings = Settings(database_url=url, db_startup_wait_seconds=1.0).database
    began = time.monotonic()
    with capture_logs() as logs, pytest.raises(StoreUnavailable) as refused:
        await Store.open(settings)

    assert time.monotonic() - began >= 1.0
    where = url.replace("postgresql://", "postgresql+asyncpg://").replace("secret", "***")
    driver_said = refused.value.__cause__.__cause__  # the last attempt's OSError
    assert refused.value.message == (
        f"the database at {where} did not answer within 1 s: {driver_said}"
    )
    waits = [entry for entry in logs if entry["event"] == "database_waiting"]
    assert len(waits) >= 2 and all(entry["database"] == where for entry in waits)


async def test_with_no_wait_start_up_fails_at_the_first_refusal() -> None:
    settings = Settings(database_url=_nothing_listening(), db_startup_wait_seconds=0).database
    with capture_logs() as logs, pytest.raises(StoreUnavailable):
        await Store.open(settings)

    assert not [entry for entry in logs if entry["event"] == "database_waiting"]


@pytest.mark.parametrize("wrong", ["password", "database"])
async def test_a_database_that_refuses_graphchat_is_named_at_once(
    postgres_database: str, wrong: str
) -> None:
    """A wrong password or database name will not fix itself: no wait, one error naming the
    database and what it said; a request meeting it gets 503 `database_unavailable`."""
    url = make_url(postgres_database)
    url = url.set(password="wrong") if wrong == "password" else url.set(database="nosuchdb")
    settings = Settings(
        database_url=url.render_as_string(hide_password=False), db_startup_wait_seconds=30
    ).database
    began = time.monotonic()
    with capture_logs() as logs, pytest.raises(StoreRefused) as refused:
        await Store.open(settings)

    assert time.monotonic() - began < 10
    assert not [entry for entry in logs if entry["event"] == "database_waiting"]
    where = url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=True)
    said = "password authentication failed" if wrong == "password" else '"nosuchdb" does not'
    assert refused.value.message.startswith(f"the database at {where} refused graphchat: ")
    assert said in refused.value.message
    assert status_for(refused.value) == 503 and refused.value.code == "database_unavailable"


async def test_a_read_only_server_refuses_a_write_as_unavailable(
    private_cluster: pgcluster.PrivateCluster,
) -> None:
    admin = await asyncpg.connect(private_cluster.url)
    try:  # as a standby answers (or a primary an operator made read-only)
        await admin.execute("ALTER DATABASE postgres SET default_transaction_read_only = on")
    finally:
        await admin.close()
    engine = create_engine(Settings(database_url=private_cluster.url).database)
    try:
        assert await _one(engine) == 1  # reads go on
        with pytest.raises(StoreUnavailable) as refused:
            await run_transaction(
                engine, lambda c: c.execute(text("CREATE TABLE written (x int)")), write=True
            )
    finally:
        await dispose(engine)
    cause = refused.value.__cause__
    assert isinstance(cause, DBAPIError) and getattr(cause.orig, "sqlstate", None) == "25006"


async def test_migrations_wait_past_the_statement_timeout(
    private_cluster: pgcluster.PrivateCluster,
) -> None:
    """Another replica migrating holds the migration lock longer than one statement may run:
    this one waits for it rather than failing (and does not try again: no start-up wait)."""
    settings = Settings(
        database_url=private_cluster.url,
        db_statement_timeout_seconds=0.3,
        db_startup_wait_seconds=0,
    ).database
    other = await asyncpg.connect(private_cluster.url)
    try:
        async with other.transaction():
            await other.execute(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            opening = asyncio.create_task(Store.open(settings))
            await asyncio.sleep(1.0)  # three statement timeouts
            assert not opening.done()
        store = await asyncio.wait_for(opening, 60)
    finally:
        await other.close()
    try:
        assert await _one(store.engine) == 1
    finally:
        await store.close()


async def test_a_transaction_rolled_back_in_a_deadlock_is_unavailable(
    private_cluster: pgcluster.PrivateCluster,
) -> None:
    """PostgreSQL breaks a deadlock by rolling one transaction back (40P01): for that request a
    503 to retry, as a server that cannot serve now, not a 500; the other transaction commits."""
    other = await asyncpg.connect(private_cluster.url)
    watcher = await asyncpg.connect(private_cluster.url)
    await other.execute(
        "CREATE TABLE pair (id int PRIMARY KEY, n int); INSERT INTO pair VALUES (1, 0), (2, 0)"
    )
    engine = create_engine(Settings(database_url=private_cluster.url).database)

    def crossing(connection: Connection) -> None:  # 2 then 1, where `other` takes 1 then 2
        connection.execute(text("UPDATE pair SET n = n + 1 WHERE id = 2"))
        connection.execute(text("UPDATE pair SET n = n + 1 WHERE id = 1"))

    try:
        async with other.transaction():
            # Only our transaction, waiting for 1 s (the default), looks for the deadlock.
            await other.execute("SET LOCAL deadlock_timeout = '60s'")
            await other.execute("UPDATE pair SET n = n + 10 WHERE id = 1")
            crossed = asyncio.create_task(run_transaction(engine, crossing, write=True))
            while not await watcher.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                await asyncio.sleep(0.01)
            await other.execute("UPDATE pair SET n = n + 10 WHERE id = 2")  # the cycle closes
        with pytest.raises(StoreUnavailable) as rolled_back:
            await crossed
        stored = await watcher.fetch("SELECT id, n FROM pair ORDER BY id")
    finally:
        await dispose(engine)
        await other.close()
        await watcher.close()
    cause = rolled_back.value.__cause__
    assert isinstance(cause, DBAPIError) and getattr(cause.orig, "sqlstate", None) == "40P01"
    assert [tuple(row) for row in stored] == [(1, 10), (2, 10)]
