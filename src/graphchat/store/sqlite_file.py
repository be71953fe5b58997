"""A SQLite file's synchronous engines: transactions in one call instead of a thread hop per
statement, and writes on the event loop's own thread whenever the file is free.

aiosqlite hops threads 3-4 times per statement. A transaction body runs instead in one call: in a
worker thread on the *twin*, or — for a write — on the event loop's thread on the *loop writer*,
where the worker-thread hop cost more CPU than the statements (0.8 ms of a 7 ms turn). The loop
writer never waits: its `BEGIN IMMEDIATE` fails at once (busy_timeout 0) when another connection
writes. Writers of one process queue on an asyncio lock; graphchat processes sharing the file
(workers) take a lock file first, and a write that finds it held retries from the loop, where
SQLite's own waiting would hold a worker thread and sleep 1, 2, 5… ms. Only a writer outside
graphchat is waited out in a worker thread. The loop writer never flushes the disk either: a
commit in WAL mode with synchronous=NORMAL only appends to the WAL, and the checkpoints that copy
the WAL back into the database and fsync it (6-8 ms per 1,000 pages) run in a worker thread
every `CHECKPOINT_EVERY_WRITES` loop writes instead of inside one of them. A read of a few rows
found by key (`run_transaction(short=True)`) runs on the loop's thread too: in WAL mode a reader
waits for no writer.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import SingletonThreadPool

log = structlog.get_logger(__name__)

# A deferred transaction that reads then writes can fail at once with SQLITE_BUSY; writers
# take the lock up front and wait their turn through busy_timeout instead. By `write`:
SQLITE_BEGIN = {True: "BEGIN IMMEDIATE", False: "BEGIN"}
# SQLite's own automatic checkpoint comes at 1,000 WAL pages; a turn's writes add ~35 pages
# in two transactions.
CHECKPOINT_EVERY_WRITES = 64
# A graphchat process holds the file for a few tenths of a millisecond per write: a write that
# finds it held retries on the loop's next turn for this long, then every millisecond (a shorter
# timer is no timer on uvloop: it fires on the next turn).
_RETRY_NEXT_TURN_SECONDS = 0.005
_RETRY_EVERY_SECONDS = 0.001
T = TypeVar("T")


class FileBusy(Exception):
    """Another connection holds the file's write lock: the write must wait elsewhere."""


class WritersBusy(FileBusy):
    """Another graphchat process is writing: its lock file says so before SQLite's lock does."""


def prepare(engine: Engine, busy_timeout_ms: int, *, checkpoints: bool = True) -> None:
    """Every connection of `engine` in WAL mode, with foreign keys and the busy timeout."""
    # The driver binds None as NULL only after asking its adapter registry, then its
    # statement protocol's type for `__adapt__`: an AttributeError made and dropped per NULL,
    # 18 a turn. With an adapter registered the registry answers. (Process-wide: the same NULL.)
    sqlite3.register_adapter(type(None), _as_null)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writers can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        pragmas = [
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={busy_timeout_ms}",
        ]
        if not checkpoints:
            pragmas.append("wal_autocheckpoint=0")
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def _as_null(value: None) -> None:
    return None


def run_on(engine: Engine, body: Callable[[Connection], T], write: bool) -> T:
    """`body` in one transaction on a synchronous engine (no begin listener: BEGIN sent here)."""
    with engine.connect() as connection:
        return run_in(connection, body, write)


def run_in(connection: Connection, body: Callable[[Connection], T], write: bool) -> T:
    """`body` in one transaction on an open connection of such an engine."""
    with connection.begin():
        _begin(connection, SQLITE_BEGIN[write])
        return body(connection)


def _begin(connection: Connection, begin: str) -> None:
    """Send `begin` straight to the driver: `exec_driver_sql` builds an execution context,
    ~30 us a call, for a statement with no parameters and no result (SQLAlchemy's own begin
    sends nothing here: the driver is in autocommit mode, see `prepare`). Its errors are
    raised as SQLAlchemy would raise them."""
    driver = connection.connection.driver_connection
    assert driver is not None  # connected
    try:
        driver.execute(begin)
    except sqlite3.OperationalError as exc:  # the file locked, or unreadable
        raise OperationalError(begin, None, exc) from exc


@dataclass(eq=False)
class SQLiteFile:
    twin: Engine  # transactions in a worker thread; locks waited out through busy_timeout
    loop_writer: Engine  # writes on the event loop's thread; never waits, never checkpoints
    writers: int  # the descriptor of the writers' lock file (see `_writers_lock_path`)
    busy_timeout: float  # seconds a write waits for the file before the store is unavailable
    _kept: threading.local = field(default_factory=threading.local, repr=False)
    _writes_since_checkpoint: int = 0
    _checkpoint: asyncio.Future[None] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, url: URL, busy_timeout_ms: int, **pool: Any) -> SQLiteFile:
        twin = create_engine(url, **pool)
        prepare(twin, busy_timeout_ms)
        # One connection per thread: only the event loop's thread uses it, one write at a time.
        # Columns encode and decode as the twin's do (`json_serializer`, `json_deserializer`):
        # without the latter the loop's reads ran `json.loads("null")` for every message
        # without tool calls.
        loop_writer = create_engine(
            url,
            poolclass=SingletonThreadPool,
            # Its connections run transactions only through `run_in`, which ends each itself
            # (commit, or rollback on any error): a rollback at check-in would have nothing to
            # undo.
            pool_reset_on_return=None,
            connect_args={"timeout": 0},
            json_serializer=pool.get("json_serializer"),
            json_deserializer=pool.get("json_deserializer"),
        )
        prepare(loop_writer, 0, checkpoints=False)
        assert url.database is not None
        # Read-only is enough for flock, and the mode is SQLite's own for its files: whoever
        # may open the database (another user's CLI) may open this too.
        writers = os.open(_writers_lock_path(url.database), os.O_RDONLY | os.O_CREAT, 0o644)
        return cls(twin, loop_writer, writers, busy_timeout_ms / 1000)

    async def write(self, body: Callable[[Connection], T], writers: asyncio.Lock) -> T:
        """`body` in a write transaction, after this process's earlier writes (`writers`).

        On the loop's thread whenever the file is free. While another graphchat process
        writes, the write retries from the loop (`_retry_delay`): a write sent to a worker
        thread took ~2 ms under load, and every write queued behind it went there too. Only a
        file held by a writer outside graphchat (another program, a migration) is waited out
        in a worker thread through busy_timeout."""
        async with writers:
            loop = asyncio.get_running_loop()
            started = loop.time()
            while True:
                try:
                    return self._write_here(body)
                except WritersBusy:
                    waited = loop.time() - started
                    if waited > self.busy_timeout:  # as SQLite's own wait would end
                        raise TimeoutError("another graphchat process kept the file") from None
                    await asyncio.sleep(_retry_delay(waited))
                except FileBusy:
                    break
            return await asyncio.to_thread(self._write_waiting, body)

    async def write_in_worker(self, body: Callable[[Connection], T], writers: asyncio.Lock) -> T:
        """`body` in a write transaction in one worker-thread call, after this process's earlier
        writes: a write of many rows, which the loop's thread must not wait for."""
        async with writers:
            return await asyncio.to_thread(self._write_waiting, body)

    async def read(self, body: Callable[[Connection], T]) -> T:
        """`body`, a read of a few indexed rows, on the loop's thread, as a write is: a read in
        WAL mode waits for no writer, and the worker-thread hop cost more than the read. In a
        worker thread only if the file refuses it at once (SQLITE_BUSY: WAL recovery)."""
        try:
            return run_in(self._loop_connection(), body, write=False)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await asyncio.to_thread(run_on, self.twin, body, False)

    def _write_here(self, body: Callable[[Connection], T]) -> T:
        """`body` in a write transaction on this thread; `WritersBusy` while another graphchat
        process writes, `FileBusy` while any other connection does.

        In WAL mode only `BEGIN IMMEDIATE` can meet another writer's lock: once it succeeds,
        nothing in the transaction waits, and when it fails nothing of `body` was stored."""
        try:
            fcntl.flock(self.writers, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WritersBusy from None
        try:
            result = run_in(self._loop_connection(), body, write=True)
        except OperationalError as exc:
            if _is_busy(exc):
                raise FileBusy from exc
            raise
        finally:
            fcntl.flock(self.writers, fcntl.LOCK_UN)
        self._count_write()
        return result

    def _loop_connection(self) -> Connection:
        """This thread's connection of the loop writer, kept open from one transaction to the
        next: a check-out and check-in of the pool per transaction (SingletonThreadPool's failed
        attribute lookup, the pool's events and bookkeeping) cost ~3 % of a turn's
        instructions (bench/analysis.md, round 47). One that was lost is replaced."""
        kept: Connection | None = getattr(self._kept, "connection", None)
        if kept is None or kept.invalidated or kept.closed:
            if kept is not None:
                kept.close()
            kept = self._kept.connection = self.loop_writer.connect()
        return kept

    def _write_waiting(self, body: Callable[[Connection], T]) -> T:
        """`body` in a write transaction in a worker thread, waiting for the file as long as it
        takes (busy_timeout)."""
        fcntl.flock(self.writers, fcntl.LOCK_EX)
        try:
            return run_on(self.twin, body, write=True)
        finally:
            fcntl.flock(self.writers, fcntl.LOCK_UN)

    def _count_write(self) -> None:
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint < CHECKPOINT_EVERY_WRITES or self._checkpoint is not None:
            return
        self._writes_since_checkpoint = 0
        self._checkpoint = asyncio.get_running_loop().run_in_executor(None, _checkpoint, self.twin)
        self._checkpoint.add_done_callback(self._checkpointed)

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled() and done.exception() is not None:
            # The WAL only grows until the next checkpoint succeeds; writes go on.
            log.warning("sqlite_checkpoint_failed", error=str(done.exception()))

    async def close(self) -> None:
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        kept: Connection | None = getattr(self._kept, "connection", None)
        if kept is not None:  # the loop's thread: its connection is this one's
            kept.close()
        self.loop_writer.dispose()
        self.twin.dispose()
        os.close(self.writers)


def _is_busy(error: OperationalError) -> bool:
    """Whether SQLite refused at once because another connection holds the file."""
    return getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


def _retry_delay(waited: float) -> float:
    return 0 if waited < _RETRY_NEXT_TURN_SECONDS else _RETRY_EVERY_SECONDS


def _writers_lock_path(database: str) -> str:
    # Beside the database, not the database itself: a process that closes any descriptor of
    # the database file drops SQLite's own (POSIX) locks on it.
    return f"{database}-writers"


def _checkpoint(engine: Engine) -> None:
    # PASSIVE copies what no reader still needs, without waiting for readers or writers.
    connection = engine.raw_connection()
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()
