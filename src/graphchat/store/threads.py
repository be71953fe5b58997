"""Threads: create, read, list by activity, update and delete (messages and runs cascade)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphchat.errors import Conflict, InvalidRequest, NotFound
from graphchat.store.database import changed_rows, read_rows, run_transaction
from graphchat.store.records import NewThread, Page, Thread
from graphchat.store.repository import Repository
from graphchat.store.sent_alone import execute_alone
from graphchat.store.tables import THREADS
from graphchat.store.window_cache import WindowCache

_INSERT_THREAD = insert(THREADS)  # built once, as a turn's statements are
_REPLACE_TITLE = (
    update(THREADS)
    .where(THREADS.c.id == bindparam("thread_id"), THREADS.c.title == bindparam("expected"))
    .values(title=bindparam("new_title"))
    .returning(THREADS.c.id)  # a row if set
)
_THREAD_FIELDS = tuple(field.name for field in fields(Thread))  # named as the columns are


def utcnow() -> datetime:
    return datetime.now(UTC)


def thread_from_row(row: Row[Any]) -> Thread:
    m = row._mapping
    return Thread(
        id=m["id"],
        owner=m["owner"],
        title=m["title"],
        model=m["model"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def thread_not_found(thread_id: str) -> NotFound:
    return NotFound(f"thread '{thread_id}' was not found", code="thread_not_found")


def encode_cursor(updated_at: datetime, thread_id: str) -> str:
    raw = f"{updated_at.isoformat()}|{thread_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, thread_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), thread_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            "the cursor is not one this server issued", code="invalid_cursor"
        ) from exc


_SELECT_THREAD = select(THREADS).where(THREADS.c.id == bindparam("thread_id", type_=String))


def select_thread(connection: Connection, owner: str, thread_id: str) -> Thread | None:
    """The thread if it exists and belongs to `owner` (another owner's thread is not found).
    Synchronous, for `run_transaction`; an `AsyncConnection` calls it through `run_sync`."""
    row = connection.execute(_SELECT_THREAD, {"thread_id": thread_id}).first()
    if row is None or row.owner != owner:
        return None
    return thread_from_row(row)


def created_thread(new: NewThread, now: datetime | None = None) -> Thread:
    """The thread `new` becomes, created `now` (default: this moment)."""
    now = utcnow() if now is None else now
    return Thread(**asdict(new), created_at=now, updated_at=now)


def thread_values(thread: Thread, leaf_message_id: str | None = None) -> dict[str, Any]:
    """The row `thread` is stored as. The leaf is known before the thread's first messages are
    inserted (it has no foreign key)."""
    values = {name: getattr(thread, name) for name in _THREAD_FIELDS}
    values["leaf_message_id"] = leaf_message_id
    return values


class ThreadRepository(Repository):
    def __init__(self, engine: AsyncEngine, windows: WindowCache) -> None:
        super().__init__(engine)
        self._windows = windows

    async def create(self, new: NewThread) -> Thread:
        thread = created_thread(new)
        values = thread_values(thread)
        try:
            await run_transaction(
                self._engine, lambda c: c.execute(_INSERT_THREAD, values), write=True
            )
        except IntegrityError as exc:
            raise Conflict(
                f"a thread with id '{new.id}' already exists", code="thread_exists"
            ) from exc
        return thread

    async def get(self, owner: str, thread_id: str) -> Thread:
        # One row by key, read by nearly every request about a thread: on a SQLite file on the
        # loop's thread (through aiosqlite it was ~7 thread hops), on PostgreSQL one round trip.
        thread = await run_transaction(
            self._engine,
            lambda c: select_thread(c, owner, thread_id),
            short=True,
        )
        if thread is None:
            raise thread_not_found(thread_id)
        return thread

    async def page(
        self, owner: str, *, limit: int, offset: int = 0, cursor: str | None = None
    ) -> Page[Thread, str]:
        """Threads of `owner`, most recent activity first; `cursor` is a page's `next_cursor`."""
        keys = select(THREADS.c.id).where(THREADS.c.owner == owner)
        if cursor is not None:
            stamp, last_id = decode_cursor(cursor)
            # A row-value comparison, so the (owner, updated_at, id) index can seek to the cursor.
            keys = keys.where(tuple_(THREADS.c.updated_at, THREADS.c.id) < (stamp, last_id))
        newest_first = (THREADS.c.updated_at.desc(), THREADS.c.id.desc())
        keys = keys.order_by(*newest_first).limit(limit + 1).offset(offset)
        # The offset is skipped in the index alone; only the page's rows are read whole.
        query = select(THREADS).where(THREADS.c.id.in_(keys)).order_by(*newest_first)
        rows = await read_rows(self._engine, query)
        threads = [thread_from_row(row) for row in rows[:limit]]
        if len(rows) <= limit:
            return Page(items=threads, has_more=False)
        last = threads[-1]
        return Page(
            items=threads, has_more=True, next_cursor=encode_cursor(last.updated_at, last.id)
        )

    async def update(self, owner: str, thread_id: str, changes: Mapping[str, Any]) -> Thread:
        """Set the title and model `changes` holds; its metadata keys are merged into the
        thread's (a None value removes a key)."""

        def body(connection: Connection) -> Thread:
            thread = select_thread(connection, owner, thread_id)
            if thread is None:
                raise thread_not_found(thread_id)
            values: dict[str, Any] = {"updated_at": utcnow()}
            values |= {name: changes[name] for name in ("title", "model") if name in changes}
            if changes.get("metadata") is not None:
                merged = {**thread.metadata, **changes["metadata"]}
                values["metadata"] = {k: v for k, v in merged.items() if v is not None}
            connection.execute(update(THREADS).where(THREADS.c.id == thread_id).values(values))
            return thread_from_row(
                connection.execute(_SELECT_THREAD, {"thread_id": thread_id}).one()
            )

        return await run_transaction(self._engine, body, write=True)

    async def replace_title(self, thread_id: str, expected: str, title: str) -> bool:
        """Set the title only if it is still `expected` (a rename meanwhile wins); True if set."""
        values = {"thread_id": thread_id, "expected": expected, "new_title": title}
        # One keyed statement beside the turns: on a SQLite file it runs on the loop writer, as
        # a turn's writes do, not through aiosqlite's thread hops; on PostgreSQL with no BEGIN
        # and COMMIT, and without switching the session's plan mode (keyed) back and forth.
        replaced = await run_transaction(
            self._engine,
            lambda c: execute_alone(c, _REPLACE_TITLE, values) is not None,
            write=True,
            autocommit=True,
        )
        if not replaced:
            return False
        self._windows.retitle(thread_id, expected, title)
        return True

    async def delete(self, owner: str, thread_id: str) -> None:
        owned = delete(THREADS).where(THREADS.c.id == thread_id, THREADS.c.owner == owner)
        # `bulk`: the delete cascades to every message and run of the thread.
        if await changed_rows(self._engine, owned, bulk=True) == 0:
            raise thread_not_found(thread_id)
