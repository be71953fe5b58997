"""Persistence: the only package that knows SQL. Services use `Store` and its repositories."""

from __future__ import annotations

from functools import partial

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.settings import DatabaseSettings
from graphchat.store.api_keys import ApiKeyRepository
from graphchat.store.archive import ArchiveRepository
from graphchat.store.branch_repository import BranchRepository
from graphchat.store.database import create_engine, dispose, transaction
from graphchat.store.first_contact import when_answering
from graphchat.store.messages import MessageRepository
from graphchat.store.migrate import upgrade
from graphchat.store.run_events import RunEventRepository
from graphchat.store.runs import RunRepository
from graphchat.store.search import SearchRepository
from graphchat.store.search_index import SearchIndex
from graphchat.store.thread_search import ThreadSearchRepository
from graphchat.store.threads import ThreadRepository
from graphchat.store.window_cache import WindowCache


class Store:
    """The database and its repositories, opened once per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # The turns' windows, kept beside what each turn stored of its thread (runs.py); a
        # title written later updates what is kept (threads.py).
        windows = WindowCache()
        self.threads = ThreadRepository(engine, windows)
        # Messages are indexed for search after their turn (search_index.py); a search first
        # catches the index up.
        self.search_index = SearchIndex(engine)
        self.messages = MessageRepository(engine, self.search_index)
        self.runs = RunRepository(engine, windows)
        self.thread_search = ThreadSearchRepository(engine)
        self.run_events = RunEventRepository(engine)
        self.api_keys = ApiKeyRepository(engine)
        self.search = SearchRepository(engine, self.search_index)
        self.archive = ArchiveRepository(engine)
        self.branches = BranchRepository(engine)

    @classmethod
    async def open(cls, database: DatabaseSettings) -> Store:
        """The store, once the database answers (waited for up to `startup_wait_seconds`) and
        its schema is current (when `auto_migrate`)."""
        engine = create_engine(database)
        store = cls(engine)
        first = partial(upgrade, engine) if database.auto_migrate else store.ping
        where = engine.url.render_as_string(hide_password=True)
        try:
            await when_answering(first, where, database.startup_wait_seconds)
        except BaseException:
            await dispose(engine)
            raise
        return store

    async def ping(self) -> None:
        """Raise `StoreUnavailable` when the database does not answer."""
        async with transaction(self.engine) as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await dispose(self.engine)


__all__ = ["Store"]
