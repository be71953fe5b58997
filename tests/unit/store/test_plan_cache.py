"""PostgreSQL plans a transaction's statements for their values; a turn's keyed statements
reuse their plans (store/database.py, `_PLAN_MODE`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from tests.support.db import sent_statements

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import run_transaction, transaction

_MODE = text("SELECT current_setting('plan_cache_mode')")


@pytest.fixture
async def store(postgres_database: str) -> AsyncIterator[Store]:
    store = await Store.open(Settings(database_url=postgres_database).database)
    yield store
    await store.close()


def _mode(connection: Connection) -> str:
    return str(connection.execute(_MODE).scalar_one())


@pytest.fixture
async def one_connection(postgres_database: str) -> AsyncIterator[Store]:
    settings = Settings(database_url=postgres_database, db_pool_size=1, db_max_overflow=0)
    store = await Store.open(settings.database)
    yield store
    await store.close()


async def test_a_transaction_plans_each_statement_for_its_values(store: Store) -> None:
    async with transaction(store.engine) as connection:
        assert (await connection.execute(_MODE)).scalar_one() == "force_custom_plan"
    async with transaction(store.engine, write=True) as connection:
        assert (await connection.execute(_MODE)).scalar_one() == "force_custom_plan"
    assert await run_transaction(store.engine, _mode) == "force_custom_plan"


async def test_keyed_statements_keep_the_servers_default(store: Store) -> None:
    assert await run_transaction(store.engine, _mode, write=True, keyed=True) == "auto"
    assert await run_transaction(store.engine, _mode, write=True, autocommit=True) == "auto"
    async with transaction(store.engine, keyed=True) as connection:
        assert (await connection.execute(_MODE)).scalar_one() == "auto"


async def test_a_connection_switches_mode_when_its_work_changes(store: Store) -> None:
    # Pooled connections serve both kinds in turn; each asks for the mode its work needs.
    for _ in range(3):
        assert await run_transaction(store.engine, _mode) == "force_custom_plan"
        assert await run_transaction(store.engine, _mode, autocommit=True) == "auto"


async def test_a_connection_switches_only_when_its_work_changes(one_connection: Store) -> None:
    engine = one_connection.engine
    with sent_statements(engine, mode_switches=True) as sent:
        modes = [await run_transaction(engine, _mode, autocommit=True) for _ in range(3)]
        modes += [await run_transaction(engine, _mode) for _ in range(3)]

    # The session keeps its mode between checkouts (the pool does not reset it).
    assert modes == ["auto"] * 3 + ["force_custom_plan"] * 3
    switches = [s.statement for s in sent if "set_config" in s.statement]
    assert len(sent) == 6 + 2 and ["'auto'" in s for s in switches] == [True, False]


async def test_a_rolled_back_switch_is_made_again(one_connection: Store) -> None:
    engine = one_connection.engine
    assert await run_transaction(engine, _mode, keyed=True) == "auto"

    def fail(connection: Connection) -> None:
        raise RuntimeError("the body failed")  # its rollback takes the switch back too

    with pytest.raises(RuntimeError):
        await run_transaction(engine, fail)
    with pytest.raises(RuntimeError):
        async with transaction(engine):
            raise RuntimeError("the body failed")

    assert await run_transaction(engine, _mode) == "force_custom_plan"


async def test_the_run_monitors_tick_leaves_the_turns_plan_mode(one_connection: Store) -> None:
    # The monitor ticks every 2 s by default; as a transaction its heartbeat switched the pooled
    # session to custom plans, and the next turn on it switched back with a round trip of its own.
    engine = one_connection.engine
    assert await run_transaction(engine, _mode, autocommit=True) == "auto"  # as a turn left it
    with sent_statements(engine, mode_switches=True) as sent:
        await one_connection.runs.heartbeat("w")
        await one_connection.runs.running()
        assert await run_transaction(engine, _mode, autocommit=True) == "auto"

    assert [s.statement for s in sent if "set_config" in s.statement] == []
    assert len(sent) == 3  # the heartbeat, the read of running runs, the mode read
