"""Unit-test fixtures: a migrated store on each database (SQLite and PostgreSQL), no HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graphchat.settings import Settings
from graphchat.store import Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await Store.open(Settings(database_url=database_url).database)
    yield store
    await store.close()
