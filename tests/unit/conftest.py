"""Unit-test fixtures: a migrated store on each database (SQLite and PostgreSQL), no HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from graphchat.settings import Settings
from graphchat.store import Store


@asynccontextmanager
async def _opened(database_url: str) -> AsyncIterator[Store]:
    store = await Store.open(Settings(database_url=database_url).database)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with _opened(database_url) as store:
        yield store


@pytest.fixture
async def replica(database_url: str) -> AsyncIterator[Store]:
    """A second store on the database of `store`: another replica of the service."""
    async with _opened(database_url) as store:
        yield store
