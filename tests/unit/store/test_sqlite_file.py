"""Writes on a SQLite file: on the event loop's thread when the file is free, never waiting there
for another writer, and checkpointed in the background; short reads on that thread too."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from graphchat.errors import Conflict, NotFound
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import statement_engines
from graphchat.store.records import Checkpoint, NewMessage, NewRun, NewThread, TurnRules
from graphchat.store.replies import ReplyRepository
from graphchat.store.sqlite_file import CHECKPOINT_EVERY_WRITES


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "graphchat.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[Store]:
    # A writer of another process is waited for up to 30 s (the loop must not be, at all).
    settings = Settings(database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=30_000)
    store = await Store.open(settings.database)
    yield store
    await store.close()


@pytest.fixture
def other_process(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file (its own locks, as a second replica has)."""
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


async def test_a_write_while_another_connection_writes_waits_without_stopping_the_loop(
    store: Store, other_process: sqlite3.Connection
) -> None:
    other_process.execute("BEGIN IMMEDIATE")
    other_process.execute(
        "INSERT INTO threads (id, owner, metadata, created_at, updated_at)"
        " VALUES ('theirs', 'o', '{}', '2026-01-01', '2026-01-01')"
    )

    loop = asyncio.get_running_loop()
    started = loop.time()
    ours = asyncio.create_task(store.threads.create(NewThread(id="ours", owner="o")))
    await asyncio.sleep(0.2)  # the loop goes on while our write waits for the file
    assert loop.time() - started < 10  # not held for the busy timeout
    assert not ours.done()
    other_process.execute("COMMIT")  # ...and the write lands once the file is free
    await ours

    assert (await store.threads.get("o", "ours")).id == "ours"
    assert (await store.threads.get("o", "theirs")).id == "theirs"


async def test_a_failed_write_on_the_loop_leaves_nothing_behind(store: Store) -> None:
    await store.threads.create(NewThread(id="t", owner="o"))

    with pytest.raises(Conflict):
        await store.threads.create(NewThread(id="t", owner="o", title="second"))
    await store.threads.create(NewThread(id="u", owner="o"))  # the connection is usable again

    assert (await store.threads.get("o", "t")).title is None
    assert (await store.threads.get("o", "u")).id == "u"


async def test_the_loop_writer_s_writes_are_checkpointed_in_the_background(
    store: Store, other_process: sqlite3.Connection
) -> None:
    # `other_process` stays on the WAL, so closing the store does not checkpoint it itself.
    other_process.execute("CREATE TABLE schema_probe (n INTEGER)")
    writes = CHECKPOINT_EVERY_WRITES  # the last one starts a checkpoint
    for number in range(writes):
        await store.threads.create(NewThread(id=f"t{number}", owner="o"))
    await store.close()  # waits for the checkpoint
    # A write after a complete checkpoint starts the WAL over; without one it appends.
    other_process.execute("INSERT INTO schema_probe VALUES (1)")

    _busy, frames_in_wal, _copied = other_process.execute(
        "PRAGMA wal_checkpoint(PASSIVE)"
    ).fetchone()

    # Each of our writes appended at least one frame: they are no longer in the WAL.
    assert 0 < frames_in_wal < writes
    rows = other_process.execute("SELECT count(*) FROM threads").fetchone()
    assert rows == (writes,)


async def test_a_short_read_runs_on_the_loop_while_another_connection_writes(
    store: Store, other_process: sqlite3.Connection
) -> None:
    await store.threads.create(NewThread(id="t", owner="o"))
    other_process.execute("BEGIN IMMEDIATE")
    other_process.execute(
        "INSERT INTO threads (id, owner, metadata, created_at, updated_at)"
        " VALUES ('theirs', 'o', '{}', '2026-01-01', '2026-01-01')"
    )
    ran: list[str] = []

    async def meanwhile() -> None:
        ran.append("meanwhile")

    task = asyncio.create_task(meanwhile())  # runs at the loop's next chance
    found = await store.messages.checkpoint("o", "t", 0)
    unseen = await store.messages.checkpoint("o", "theirs", 0)

    assert ran == []  # the reads never gave the loop away: no worker-thread hop
    assert found == Checkpoint(leaf_seq=0, message_id=None)
    assert unseen is None  # not committed yet: a read waits for no writer, and sees before it
    other_process.execute("COMMIT")
    await task
    assert await store.messages.checkpoint("o", "theirs", 0) == found


async def test_every_engine_of_the_file_decodes_json_columns_alike(store: Store) -> None:
    # The loop's engine once had SQLAlchemy's default: `json.loads("null")` for every message
    # without tool calls that a short read or a turn's window read on the loop.
    decoders = {engine.dialect._json_deserializer for engine in statement_engines(store.engine)}
    assert len(statement_engines(store.engine)) == 3
    assert len(decoders) == 1 and None not in decoders


async def test_the_loop_s_thread_keeps_one_connection_from_transaction_to_transaction(
    store: Store,
) -> None:
    loop_writer = statement_engines(store.engine)[1]
    checkouts: list[object] = []
    event.listen(loop_writer, "checkout", lambda dbapi, *_: checkouts.append(dbapi))
    await store.threads.create(NewThread(id="t0", owner="o"))  # the connection is kept from here

    for number in range(1, 4):
        await store.threads.create(NewThread(id=f"t{number}", owner="o"))
        await store.threads.get("o", f"t{number}")

    assert len(checkouts) <= 1  # none at all if the store had written on the loop before


async def test_a_lost_connection_of_the_loop_s_thread_is_replaced(store: Store) -> None:
    loop_writer = statement_engines(store.engine)[1]
    used: list[Connection] = []
    event.listen(
        loop_writer, "before_cursor_execute", lambda connection, *_: used.append(connection)
    )
    await store.threads.create(NewThread(id="t1", owner="o"))
    lost = used[-1]
    lost.invalidate()  # as SQLAlchemy does when a statement finds its connection gone

    await store.threads.create(NewThread(id="t2", owner="o"))

    assert used[-1] is not lost and not used[-1].invalidated
    assert [(await store.threads.get("o", t)).id for t in ("t1", "t2")] == ["t1", "t2"]


async def test_a_thread_is_read_on_the_loop_s_thread(store: Store) -> None:
    # Nearly every request about a thread reads it first; through aiosqlite that was ~7 hops
    # to its thread and back.
    await store.threads.create(NewThread(id="t", owner="o"))
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "meanwhile")

    found = await store.threads.get("o", "t")

    assert ran == []  # the loop was never given away
    assert found.id == "t"
    with pytest.raises(NotFound):
        await store.threads.get("someone else", "t")


async def test_an_api_key_is_looked_up_on_the_loop_s_thread(store: Store) -> None:
    # With keys on, every request looks its key up: a short read, never cached (revocation).
    key = await store.api_keys.create(owner="o", name="laptop", prefix="gc_abc", key_hash="h1")
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "meanwhile")

    found = await store.api_keys.find_by_hash("h1")
    missing = await store.api_keys.find_by_hash("h2")

    assert ran == []
    assert found is not None and found.id == key.id and missing is None
    await store.api_keys.revoke(key.id)
    revoked = await store.api_keys.find_by_hash("h1")
    assert revoked is not None and not revoked.active


async def test_a_run_and_a_numbered_message_are_read_on_the_loop_s_thread(store: Store) -> None:
    # A run by id (status, join, cancel, resume), a thread's running run (a turn on a busy
    # thread) and a message by number (LangGraph checkpoints) were each ~7 hops to aiosqlite.
    rules = TurnRules(model=lambda kept: kept or "m", title=lambda title, _messages: title)
    run = NewRun(id="r", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    said = [NewMessage(role="user", content="hello")]
    await store.runs.begin_turn(run, said, rules, history=1)
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "meanwhile")

    by_id, active = await store.runs.by_id("r"), await store.runs.active("t")
    got, first = await store.runs.get("o", "t", "r"), await store.messages.at("t", 1)
    missing = await store.messages.at("t", 2)

    assert ran == []  # the loop was never given away
    assert by_id is not None and active is not None and by_id.id == active.id == got.id == "r"
    assert first is not None and first.content == "hello" and missing is None
    with pytest.raises(NotFound):
        await store.runs.get("someone else", "t", "r")


async def test_a_rename_a_cancel_request_a_cached_reply_and_a_rejoin_point_stay_on_the_loop(
    store: Store,
) -> None:
    # Each was an aiosqlite transaction, ~7 thread hops a statement: a rename (PATCH), asking
    # another process's run to stop, a reply cache hit (read, then its hit counted) and where
    # a resumed run's events go on.
    rules = TurnRules(model=lambda kept: kept or "m", title=lambda title, _messages: title)
    run = NewRun(id="r", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], rules, history=1)
    replies = ReplyRepository(store.engine)  # the reply cache's table (wiring.py)
    await replies.put("k", "m", {"content": "cached"}, ttl_seconds=60, max_entries=10)
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "meanwhile")

    renamed = await store.threads.update("o", "t", {"title": "Renamed", "metadata": {"a": 1}})
    asked = await store.runs.request_cancel("r")
    reply = await replies.get("k")
    next_seq = await store.run_events.next_seq("r")

    assert ran == []  # the loop was never given away
    assert (renamed.title, renamed.metadata) == ("Renamed", {"a": 1})
    assert asked and (await store.runs.heartbeat("w")) == ["r"]
    assert reply == {"content": "cached"} and next_seq == 0
    with pytest.raises(NotFound):
        await store.threads.update("someone else", "t", {"title": "Theirs"})


async def test_a_thread_s_delete_and_a_prune_are_one_worker_thread_call(store: Store) -> None:
    # Both may touch many rows (a cascade, old events): not on the loop's thread, and not through
    # aiosqlite either, where SQLAlchemy's work ran on the loop with a thread hop per step.
    await store.threads.create(NewThread(id="t", owner="o"))
    deleting: list[int] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deleting.append(threading.get_ident())

    engines = statement_engines(store.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        await store.threads.delete("o", "t")
        pruned = await store.run_events.prune(datetime.now(UTC))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)

    assert len(deleting) == 2 and threading.get_ident() not in deleting
    assert pruned == 0
    with pytest.raises(NotFound):
        await store.threads.get("o", "t")
    with pytest.raises(NotFound):
        await store.threads.delete("o", "t")


async def test_a_branch_switch_and_a_key_s_writes_stay_on_the_loop(store: Store) -> None:
    # Each was an aiosqlite transaction, a thread hop per step; each is one write now, which
    # the loop's writer runs on its thread while the file is free.
    await store.threads.create(NewThread(id="t", owner="o"))
    first, _second = await store.runs.append(
        "t", "r", [NewMessage(role="user", content="hi"), NewMessage(role="user", content="again")]
    )
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "meanwhile")

    leaf = await store.branches.switch("o", "t", first.id, descend=False)
    key = await store.api_keys.create(owner="o", name="laptop", prefix="gc_ab", key_hash="h")
    await store.api_keys.touch(key.id, datetime.now(UTC))
    revoked = await store.api_keys.revoke("gc_ab")

    assert ran == []  # the loop was never given away
    assert leaf == first.id
    assert [m.id for m in await store.messages.owned_branch("o", "t", 10)] == [first.id]
    [listed] = await store.api_keys.list_keys(owner="o")
    assert listed.last_used_at is not None and listed.revoked_at == revoked.revoked_at
    assert revoked.revoked_at is not None
    with pytest.raises(NotFound):
        await store.branches.switch("someone else", "t", first.id, descend=False)
