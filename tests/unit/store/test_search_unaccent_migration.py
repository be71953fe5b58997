"""Migration 0008 (accents): a database that already holds messages is searched without accents
after the upgrade, the upgrade can be undone, and without `unaccent` it stops with a message
saying how to add it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import create_engine, transaction
from graphchat.store.migrate import current_revision, downgrade, upgrade
from support.old_release import fill_at

PREVIOUS_HEAD = "0007"
_ROWS = (("m1", 1, "user", "Un café crème, sans Ärger"), ("m2", 2, "assistant", "Très bien."))


async def _found(store: Store, query: str) -> list[str]:
    return [hit.message_id for hit in (await store.search.messages("alice", query, limit=5)).items]


async def test_existing_messages_are_found_without_accents_after_the_upgrade(
    database_url: str,
) -> None:
    await fill_at(database_url, PREVIOUS_HEAD, "Déjà vu", _ROWS)

    store = await Store.open(Settings(database_url=database_url).database)  # migrates to the head
    try:
        cafe, arger, tres = [await _found(store, q) for q in ("cafe", "ARGER", "tres")]
        titles = await store.search.titles("alice", "deja", limit=5)
    finally:
        await store.close()

    assert (cafe, arger, tres) == (["m1"], ["m1"], ["m2"])
    assert [t.snippet for t in titles] == ["<mark>Déjà</mark> vu"]


async def test_the_upgrade_can_be_undone_and_redone(database_url: str) -> None:
    await fill_at(database_url, PREVIOUS_HEAD, "Déjà vu", _ROWS)
    store = await Store.open(Settings(database_url=database_url).database)
    try:
        await downgrade(store.engine, PREVIOUS_HEAD)
        async with transaction(store.engine) as connection:
            undone = await _accents_kept(connection, store.engine.dialect.name)
        await upgrade(store.engine)
        found = await _found(store, "creme")
    finally:
        await store.close()

    assert undone
    assert found == ["m1"]


async def _accents_kept(connection: AsyncConnection, dialect: str) -> bool:
    """Whether the stored vectors are the 0007 ones again (PostgreSQL's `simple`, accents kept);
    SQLite's index never changed."""
    if dialect == "sqlite":
        return True
    statement = text(
        "SELECT count(*) FROM messages WHERE search_vector @@ to_tsquery('simple', 'café') "
        "AND NOT search_vector @@ to_tsquery('simple', 'cafe') AND NOT EXISTS "
        "(SELECT 1 FROM pg_ts_config WHERE cfgname = 'graphchat_search')"
    )
    return bool(await connection.scalar(statement))


@pytest.fixture
async def restricted_url(postgres_database: str) -> AsyncIterator[str]:
    """A database a role may create tables in, but not extensions (no CREATE on the database)."""
    name = f"graphchat_nounaccent_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_database.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'restricted'")
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = postgres_database.rpartition("/")[0].replace("postgresql+asyncpg", "postgresql")
        owner = await asyncpg.connect(f"{base}/{name}")
        try:
            await owner.execute(f"GRANT CREATE ON SCHEMA public TO {name}")
        finally:
            await owner.close()
        host = base.rpartition("@")[2]
        yield f"postgresql://{name}:restricted@{host}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f"DROP ROLE IF EXISTS {name}")
        await admin.close()


async def test_without_unaccent_the_upgrade_stops_and_says_how_to_add_it(
    restricted_url: str,
) -> None:
    engine = create_engine(Settings(database_url=restricted_url).database)
    try:
        await upgrade(engine, PREVIOUS_HEAD)
        with pytest.raises(RuntimeError, match="CREATE EXTENSION unaccent") as refused:
            await upgrade(engine)
        revision = await current_revision(engine)
    finally:
        await engine.dispose()

    assert "permission denied" in str(refused.value)
    assert revision == PREVIOUS_HEAD  # nothing half done
