"""Writers of several graphchat processes on one SQLite file: a write that waits for another
graphchat process still runs on the event loop's thread once the file is free, and gives up
after the busy timeout; only a writer outside graphchat is waited out in a worker thread."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlalchemy.engine import Connection

from graphchat.errors import StoreUnavailable
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.records import NewThread
from graphchat.store.sqlite_file import SQLiteFile


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "graphchat.db"


@pytest.fixture
async def file(path: Path) -> AsyncIterator[SQLiteFile]:
    opened = SQLiteFile.open(make_url(f"sqlite:///{path}"), busy_timeout_ms=30_000)
    yield opened
    await opened.close()


@pytest.fixture
def other_graphchat(path: Path) -> Iterator[int]:
    """The writers' lock file as another graphchat process holds it while it writes."""
    descriptor = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    yield descriptor
    os.close(descriptor)  # releases the lock if the test has not


class Notes:
    """A write body that records the thread it ran on and stores its number."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def writer(self, number: int) -> Callable[[Connection], None]:
        def body(connection: Connection) -> None:
            self.threads.append(threading.get_ident())
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS notes (n INTEGER)")
            connection.exec_driver_sql("INSERT INTO notes VALUES (?)", (number,))

        return body


def stored(path: Path) -> list[int]:
    with sqlite3.connect(path) as connection:
        return [n for (n,) in connection.execute("SELECT n FROM notes ORDER BY rowid")]


async def test_writes_that_wait_for_another_graphchat_process_run_on_the_loop_in_order(
    file: SQLiteFile, other_graphchat: int, path: Path
) -> None:
    notes, writers = Notes(), asyncio.Lock()
    loop = asyncio.get_running_loop()
    started = loop.time()
    writes = [asyncio.create_task(file.write(notes.writer(n), writers)) for n in range(5)]
    await asyncio.sleep(0.2)  # the loop goes on while the writes wait

    assert loop.time() - started < 5
    assert not any(write.done() for write in writes)
    assert notes.threads == []
    fcntl.flock(other_graphchat, fcntl.LOCK_UN)
    await asyncio.gather(*writes)

    assert stored(path) == [0, 1, 2, 3, 4]
    assert notes.threads == [threading.get_ident()] * 5


async def test_a_writer_outside_graphchat_is_waited_out_in_a_worker_thread(
    file: SQLiteFile, path: Path
) -> None:
    notes = Notes()
    await file.write(notes.writer(0), asyncio.Lock())  # the table, from the loop's thread
    outside = sqlite3.connect(path, isolation_level=None)  # no lock file: SQLite's lock only
    try:
        outside.execute("BEGIN IMMEDIATE")
        outside.execute("INSERT INTO notes VALUES (1)")
        write = asyncio.create_task(file.write(notes.writer(2), asyncio.Lock()))
        await asyncio.sleep(0.2)
        assert not write.done()
        outside.execute("COMMIT")
        await write
    finally:
        outside.close()

    assert stored(path) == [0, 1, 2]
    assert notes.threads[0] == threading.get_ident()
    assert notes.threads[1] != threading.get_ident()


async def test_a_cancelled_wait_stores_nothing_and_leaves_the_lock_file_free(
    file: SQLiteFile, other_graphchat: int, path: Path
) -> None:
    notes, writers = Notes(), asyncio.Lock()
    waiting = asyncio.create_task(file.write(notes.writer(1), writers))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    fcntl.flock(other_graphchat, fcntl.LOCK_UN)

    fcntl.flock(other_graphchat, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no BlockingIOError
    fcntl.flock(other_graphchat, fcntl.LOCK_UN)
    await file.write(notes.writer(2), writers)
    assert stored(path) == [2]
    assert notes.threads == [threading.get_ident()]


async def test_a_write_gives_up_when_another_graphchat_process_holds_on_past_the_busy_timeout(
    other_graphchat: int, path: Path
) -> None:
    file = SQLiteFile.open(make_url(f"sqlite:///{path}"), busy_timeout_ms=300)
    notes = Notes()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):  # `run_transaction` answers `StoreUnavailable`
            await file.write(notes.writer(1), asyncio.Lock())
        assert 0.3 <= loop.time() - started < 5
        assert notes.threads == []  # the body never ran: nothing of it was stored
        fcntl.flock(other_graphchat, fcntl.LOCK_UN)
        await file.write(notes.writer(2), asyncio.Lock())
    finally:
        await file.close()
    assert stored(path) == [2]


async def test_the_store_answers_unavailable_when_the_file_stays_taken(
    other_graphchat: int, path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=300)
    store = await Store.open(settings.database)
    try:
        with pytest.raises(StoreUnavailable):
            await store.threads.create(NewThread(id="t", owner="o"))
        fcntl.flock(other_graphchat, fcntl.LOCK_UN)
        await store.threads.create(NewThread(id="u", owner="o"))
        page = await store.threads.page("o", limit=10)
        assert [thread.id for thread in page.items] == ["u"]
    finally:
        await store.close()
