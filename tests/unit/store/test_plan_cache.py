"""PostgreSQL plans a transaction's statements for their values; a turn's keyed statements
reuse their plans (store/database.py, `_PLAN_FOR_VALUES`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

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


async def test_the_setting_ends_with_its_transaction(store: Store) -> None:
    # Pooled connections serve both kinds in turn: a transaction's setting must not outlive it.
    for _ in range(3):
        async with transaction(store.engine) as connection:
            await connection.execute(_MODE)
        assert await run_transaction(store.engine, _mode, autocommit=True) == "auto"
