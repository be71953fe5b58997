"""A branch is walked one primary-key lookup per message on a young PostgreSQL database too.

At PostgreSQL's default random_page_cost (4, for spinning disks) a messages table of a few
hundred rows made the planner hash-join each step of the walk with a scan of the whole table;
graphchat's sessions set 1.1 (`GRAPHCHAT_POSTGRES_RANDOM_PAGE_COST`, store/database.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from tests.unit.store.test_runs_statements import RULES, new_run

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.messages import _WINDOW_FROM_LEAF
from graphchat.store.records import NewMessage

_SETTING = text("SELECT current_setting('random_page_cost')")


async def _opened(url: str, cost: str) -> Store:
    settings = Settings(database_url=url, postgres_random_page_cost=cost)
    return await Store.open(settings.database)


@pytest.fixture
async def store(postgres_database: str) -> AsyncIterator[Store]:
    store = await _opened(postgres_database, "1.1")
    yield store
    await store.close()


async def test_a_long_branch_in_a_young_table_is_walked_by_key(store: Store) -> None:
    # A new installation's first long conversation: 240 messages, and the table has no others.
    messages = [
        NewMessage(role="user" if n % 2 == 0 else "assistant", content=f"message {n}")
        for n in range(240)
    ]
    await store.runs.begin_turn(new_run("t", "r"), messages, RULES)
    walk = _WINDOW_FROM_LEAF.params(thread_id="t", limit=200)
    sql = walk.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    async with store.engine.connect() as connection:
        await connection.execute(text("ANALYZE messages"))  # as autovacuum would by now
        plan = "\n".join(row[0] for row in await connection.execute(text(f"EXPLAIN {sql}")))

    assert "Seq Scan on messages" not in plan, plan
    assert "Index Scan using pk_messages on messages messages_1" in plan, plan
    assert len(await store.messages.recent("t", 200)) == 200


async def test_an_empty_setting_keeps_the_server_s(postgres_database: str) -> None:
    raw = await asyncpg.connect(postgres_database.replace("postgresql+asyncpg://", "postgresql://"))
    server_s = await raw.fetchval("SELECT current_setting('random_page_cost')")
    await raw.close()
    ours, theirs = await _opened(postgres_database, "1.1"), await _opened(postgres_database, "")
    try:
        async with ours.engine.connect() as one, theirs.engine.connect() as other:
            assert (await one.execute(_SETTING)).scalar_one() == "1.1"
            assert (await other.execute(_SETTING)).scalar_one() == server_s != "1.1"
    finally:
        await ours.close()
        await theirs.close()
