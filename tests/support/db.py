"""Direct database access for assertions: what is really stored, independent of the API."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from graphchat.settings.database import normalize_database_url
from graphchat.store.database import statement_engines


@dataclass(frozen=True, slots=True)
class Sent:
    """A statement as the store sent it: on which connection, with which parameters."""

    connection: Connection
    statement: str
    parameters: Any
    context: Any  # SQLAlchemy's execution context; None when sent by the cursor alone


@contextmanager
def sent_statements(engine: AsyncEngine, *, mode_switches: bool = False) -> Iterator[list[Sent]]:
    """Every statement a store on `engine` sends meanwhile; BEGIN and COMMIT are left out, and
    (unless `mode_switches`) a session's switch of PostgreSQL's plan cache mode, which a pooled
    connection makes only when its kind of work changes (store/database.py)."""
    seen: list[Sent] = []

    def before(
        connection: Connection, _cursor: Any, statement: str, parameters: Any, context: Any, *_: Any
    ) -> None:
        if statement.strip().upper().startswith(("BEGIN", "COMMIT")):
            return
        if mode_switches or "set_config('plan_cache_mode'" not in statement:
            seen.append(Sent(connection, statement, parameters, context))

    engines = statement_engines(engine)
    for sync_engine in engines:
        event.listen(sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for sync_engine in engines:
            event.remove(sync_engine, "before_cursor_execute", before)


@contextmanager
def statement_contexts(engine: AsyncEngine) -> Iterator[list[object]]:
    """The execution context of each statement sent meanwhile (None: sent by the cursor or the
    driver alone, without SQLAlchemy's execution)."""
    contexts: list[object] = []
    with sent_statements(engine) as seen:
        yield contexts
    contexts.extend(sent.context for sent in seen)


def thread_row(thread_id: str, at: datetime, title: str | None = "a title") -> dict[str, Any]:
    """A `threads` row of owner "o", made and updated `at`."""
    return {
        "id": thread_id,
        "owner": "o",
        "title": title,
        "model": None,
        "metadata": {"tools": ["clock"]},
        "created_at": at,
        "updated_at": at,
        "leaf_message_id": None,
    }


def query(database_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Run one statement on a short-lived connection and return its rows as dicts."""

    async def go() -> list[dict[str, Any]]:
        engine = create_async_engine(normalize_database_url(database_url))
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(sql), params)
                return [dict(row._mapping) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())


@contextmanager
def thread_row_locked(database_url: str, thread_id: str) -> Iterator[None]:
    """While active, another connection holds the thread's row (PostgreSQL: `FOR UPDATE`; a
    SQLite file: the whole file, `BEGIN IMMEDIATE`): a begin that writes to it waits."""
    locked, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold_file() -> None:
        path = make_url(normalize_database_url(database_url)).database
        assert path is not None
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait()
            connection.execute("ROLLBACK")
        finally:
            connection.close()

    async def hold() -> None:
        engine = create_async_engine(normalize_database_url(database_url))
        try:
            async with engine.begin() as connection:
                lock = text("SELECT id FROM threads WHERE id = :t FOR UPDATE")
                await connection.execute(lock, {"t": thread_id})
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await engine.dispose()

    def run() -> None:
        try:
            if database_url.startswith("sqlite"):
                hold_file()
            else:
                asyncio.run(hold())
        except BaseException as exc:  # handed to the test below
            failures.append(exc)
            locked.set()

    holder = threading.Thread(target=run)
    holder.start()
    try:
        assert locked.wait(30), "the thread's row was never locked"
        if failures:
            raise failures[0]
        yield
    finally:
        release.set()
        holder.join(30)


def snapshot(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the conversation tables, for before/after comparisons."""
    return {
        table: query(database_url, f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608
        for table in ("threads", "messages", "runs")
    }


@contextmanager
def message_rewrites_forbidden(database_url: str) -> Iterator[None]:
    """While active, triggers make any UPDATE or DELETE of a message row fail loudly."""
    _install_triggers(database_url)
    try:
        yield
    finally:
        if database_url.startswith("sqlite"):
            for action in ("update", "delete"):
                query(database_url, f"DROP TRIGGER IF EXISTS forbid_{action}")
        else:
            query(database_url, "DROP TRIGGER IF EXISTS forbid_rewrite ON messages")


def _install_triggers(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        for action in ("UPDATE", "DELETE"):
            query(
                database_url,
                f"CREATE TRIGGER forbid_{action.lower()} BEFORE {action} ON messages "
                "BEGIN SELECT RAISE(ABORT, 'messages are append-only'); END",
            )
        return
    query(
        database_url,
        "CREATE OR REPLACE FUNCTION forbid_rewrite() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'messages are append-only'; END $$ LANGUAGE plpgsql",
    )
    query(
        database_url,
        "CREATE TRIGGER forbid_rewrite BEFORE UPDATE OR DELETE ON messages "
        "FOR EACH ROW EXECUTE FUNCTION forbid_rewrite()",
    )


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows each conversation table holds, read over a store's own engine."""
    async with engine.connect() as connection:
        return {
            table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
            for table in ("threads", "messages", "runs")
        }
