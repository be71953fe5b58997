"""Database outages: the service answers 503 (never a 500 or a hang), keeps what it stored, and
recovers by itself when the database returns.

PostgreSQL is a private cluster the test stops and starts (never the shared one); SQLite is
locked by another process for longer than the busy timeout, or its disk (a tiny tmpfs) filled.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from graphchat.settings import Settings
from support import pgcluster
from support.db import query, snapshot
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer, live_server
from support.sse import frames

# A request may wait for the pool and a connection attempt, not more (plus scheduling slack).
POOL_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0
BOUND = POOL_TIMEOUT + CONNECT_TIMEOUT + 5.0


def _settings(database_url: str, ollama: FakeOllama, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "ollama_url": ollama.url,
        "log_format": "console",
        "log_level": "error",
        "rate_limit": "",
        "db_pool_timeout": POOL_TIMEOUT,
        "db_connect_timeout": CONNECT_TIMEOUT,
        "sqlite_busy_timeout_ms": 500,
        "run_heartbeat_seconds": 0.5,
    }
    return Settings(**{**values, **overrides})


def _until(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = call()
    return response, time.monotonic() - began


def _assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable", response.text
    assert elapsed < BOUND


# A turn on the seeded thread through the LangGraph and OpenAI routes: (path, body, headers).
_SAID = [{"role": "user", "content": "during"}]
_OTHER_PROTOCOLS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("/threads/before/runs/wait", {"assistant_id": "agent", "input": {"messages": _SAID}}, {}),
    (
        "/v1/chat/completions",
        {"model": "llama3.2", "messages": _SAID},
        {"X-Graphchat-Thread-Id": "before"},
    ),
]


def _seed(api: httpx.Client) -> None:
    for number in range(3):
        reply = api.post("/chat", json={"message": f"before {number}", "thread_id": "before"})
        assert reply.status_code == 200, reply.text


def _stream_in_background(api: httpx.Client, seen: list[str], ended: threading.Event) -> None:
    body = {"input": {"messages": [{"role": "user", "content": "long"}], "thread_id": "inflight"}}
    try:
        with api.stream("POST", "/stream", json=body) as response:
            for frame in frames(response.iter_lines()):
                seen.append(frame.event)
    except httpx.HTTPError:
        seen.append("transport_error")
    finally:
        ended.set()


def _events_stored_mid_stream(api: httpx.Client, url: str) -> int:
    """How many of a new streamed run's events the event writer stored while the run was still
    running (its finish would store them all at once)."""
    body = {"input": {"messages": [{"role": "user", "content": "later"}], "thread_id": "later"}}
    stored = (
        "SELECT count(*) AS n FROM run_events e JOIN runs r ON r.id = e.run_id"
        " WHERE e.run_id = :run_id AND r.status = 'running'"
    )
    with api.stream("POST", "/stream", json=body) as response:
        stream = frames(response.iter_lines())
        run_id = next(stream).json()["run_id"]
        next(frame for frame in stream if frame.event == "messages")
        deadline = time.monotonic() + 2.0  # the reply takes 4 s; the writer ticks every 50 ms
        while not (count := query(url, stored, run_id=run_id)[0]["n"]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [frame.event for frame in stream][-1] == "end"
    return int(count)


def test_postgres_stopped_and_restarted_mid_run(
    private_cluster: pgcluster.PrivateCluster, fake_ollama_server: FakeOllama
) -> None:
    ollama = fake_ollama_server
    ollama.reset()
    with live_server(_settings(private_cluster.url, ollama)) as server, server.client() as api:
        _seed(api)
        before = snapshot(private_cluster.url)
        ollama.queue(Reply(tokens=[f"t{i} " for i in range(200)], token_delay=0.05))
        seen: list[str] = []
        ended = threading.Event()
        threading.Thread(target=_stream_in_background, args=(api, seen, ended)).start()
        _until(lambda: seen.count("messages") >= 3)

        private_cluster.stop()
        ready, elapsed = _timed(lambda: api.get("/ready"))
        assert ready.status_code == 503 and elapsed < BOUND, ready.text
        assert "database" in ready.json()["error"]["message"]
        _assert_unavailable(*_timed(lambda: api.post("/chat", json={"message": "during"})))
        _assert_unavailable(*_timed(lambda: api.get("/threads")))
        for route, body, headers in _OTHER_PROTOCOLS:
            began = time.monotonic()
            refused = api.post(route, json=body, headers=headers)
            _assert_unavailable(refused, time.monotonic() - began)
        assert ended.wait(BOUND + 15), "the stream in flight did not end"
        assert seen[-1] in ("error", "end", "transport_error"), seen

        private_cluster.start()
        _until(lambda: api.get("/ready").status_code == 200)
        after_turn = api.post("/chat", json={"message": "after", "thread_id": "after"})
        assert after_turn.status_code == 200, after_turn.text
        running = "SELECT id FROM runs WHERE status = 'running'"
        _until(lambda: not query(private_cluster.url, running))  # the run monitor closed it
        ollama.queue(Reply(tokens=[f"u{i} " for i in range(40)], token_delay=0.1))
        assert _events_stored_mid_stream(api, private_cluster.url) > 0  # the event writer too

    after = snapshot(private_cluster.url)
    for table, rows in before.items():
        assert all(row in after[table] for row in rows), table
    assert not [m for m in after["messages"] if m["content"] == "during"]
    inflight = [run for run in after["runs"] if run["thread_id"] == "inflight"]
    assert [run["status"] for run in inflight] in (["error"], ["interrupted"]), inflight
    partial = sorted(
        (m for m in after["messages"] if m["run_id"] == inflight[0]["id"]), key=lambda m: m["seq"]
    )
    assert [m["role"] for m in partial] == ["user", "assistant"], partial  # what it streamed, kept


def test_postgres_started_after_graphchat(
    private_cluster: pgcluster.PrivateCluster, fake_ollama_server: FakeOllama
) -> None:
    fake_ollama_server.reset()
    private_cluster.stop()
    late = threading.Timer(2.0, private_cluster.start)
    began = time.monotonic()
    late.start()
    try:
        settings = _settings(private_cluster.url, fake_ollama_server, db_startup_wait_seconds=60)
        with live_server(settings) as server, server.client() as api:
            started_after = time.monotonic() - began
            assert api.get("/ready").status_code == 200
            reply = api.post("/chat", json={"message": "hello", "thread_id": "late"})
            assert reply.status_code == 200, reply.text
    finally:
        late.join()
    assert started_after >= 2.0  # it waited for the database rather than exiting
    assert [row["role"] for row in snapshot(private_cluster.url)["messages"]] == [
        "user",
        "assistant",
    ]


def _set_read_only(url: str, read_only: bool) -> None:
    """New sessions read-only (as a standby's are), and the open ones ended to take it up."""

    async def go() -> None:
        writable = {"default_transaction_read_only": "off"}  # this session may change it back
        admin = await asyncpg.connect(url, server_settings=writable)
        try:
            setting = "on" if read_only else "off"
            await admin.execute(
                f"ALTER DATABASE postgres SET default_transaction_read_only = {setting}"
            )
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'postgres' AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()

    asyncio.run(go())


def test_postgres_read_only_refuses_turns_and_serves_reads(
    private_cluster: pgcluster.PrivateCluster, fake_ollama_server: FakeOllama
) -> None:
    fake_ollama_server.reset()
    settings = _settings(private_cluster.url, fake_ollama_server)
    with live_server(settings) as server, server.client() as api:
        _seed(api)
        before = snapshot(private_cluster.url)
        _set_read_only(private_cluster.url, True)
        api.get("/threads")  # a pooled connection found ended: one 503 that recycles the pool
        for _ in range(3):
            _assert_unavailable(*_timed(lambda: api.post("/chat", json={"message": "during"})))
            assert api.get("/threads").status_code == 200
        _set_read_only(private_cluster.url, False)
        _until(lambda: api.post("/chat", json={"message": "after"}).status_code == 200)
    after = snapshot(private_cluster.url)
    for table, rows in before.items():
        assert all(row in after[table] for row in rows), table
    assert not [m for m in after["messages"] if m["content"] == "during"]


@contextmanager
def _threads_locked(url: str) -> Iterator[None]:
    """Another session holding `threads` in ACCESS EXCLUSIVE mode (as a long migration or an
    operator's transaction would), until the block ends."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        session = await asyncpg.connect(url)
        try:
            async with session.transaction():
                await session.execute("LOCK TABLE threads IN ACCESS EXCLUSIVE MODE")
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await session.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert locked.wait(30), "the lock was not taken"
        yield
    finally:
        release.set()
        holder.join(30)


def test_postgres_statement_waiting_on_a_lock_answers_503_after_the_timeout(
    private_cluster: pgcluster.PrivateCluster, fake_ollama_server: FakeOllama
) -> None:
    fake_ollama_server.reset()
    settings = _settings(private_cluster.url, fake_ollama_server, db_statement_timeout_seconds=1.0)
    with live_server(settings) as server, server.client() as api:
        _seed(api)
        before = snapshot(private_cluster.url)
        with _threads_locked(private_cluster.url):
            turn, waited = _timed(
                lambda: api.post("/chat", json={"message": "during", "thread_id": "before"})
            )
            _assert_unavailable(turn, waited)
            _assert_unavailable(*_timed(lambda: api.get("/threads")))
        after_turn = api.post("/chat", json={"message": "after", "thread_id": "after"})
        assert after_turn.status_code == 200, after_turn.text
    after = snapshot(private_cluster.url)
    for table, rows in before.items():
        assert all(row in after[table] for row in rows), table
    assert not [m for m in after["messages"] if m["content"] == "during"]


_HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def test_sqlite_locked_by_another_process_beyond_the_busy_timeout(
    tmp_path: Path, fake_ollama_server: FakeOllama
) -> None:
    fake_ollama_server.reset()
    path = tmp_path / "graphchat.db"
    url = f"sqlite:///{path}"
    server: LiveServer
    with live_server(_settings(url, fake_ollama_server)) as server, server.client() as api:
        _seed(api)
        before = snapshot(url)
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            for _ in range(3):
                _assert_unavailable(*_timed(lambda: api.post("/chat", json={"message": "during"})))
                created = api.post("/threads", json={"title": "during"})
                _assert_unavailable(created, 0.0)
            for route, body, headers in _OTHER_PROTOCOLS:  # reads go on, their turns cannot
                refused = api.post(route, json=body, headers=headers)
                _assert_unavailable(refused, 0.0)
        finally:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=30)
        after_turn = api.post("/chat", json={"message": "after", "thread_id": "after"})
        assert after_turn.status_code == 200, after_turn.text
    after = snapshot(url)
    for table, rows in before.items():
        assert all(row in after[table] for row in rows), table
    assert not [m for m in after["messages"] if m["content"] == "during"]
    assert not sqlite3.connect(path).execute("SELECT 1 FROM runs WHERE status='running'").fetchall()


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 8 MiB tmpfs (root only): its disk can be filled on purpose."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass  # ENOSPC: the disk is full
    return filler


def test_sqlite_on_a_full_disk(tiny_filesystem: Path, fake_ollama_server: FakeOllama) -> None:
    fake_ollama_server.reset()
    url = f"sqlite:///{tiny_filesystem / 'graphchat.db'}"
    with live_server(_settings(url, fake_ollama_server)) as server, server.client() as api:
        _seed(api)
        before = snapshot(url)
        filler = _fill(tiny_filesystem)
        try:
            for number in range(3):
                body = {"message": "during " + "x" * 20_000, "thread_id": f"full-{number}"}
                response, elapsed = _timed(partial(api.post, "/chat", json=body))
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "database_unavailable"
                assert elapsed < BOUND
        finally:
            filler.unlink()
        after_turn = api.post("/chat", json={"message": "after", "thread_id": "after"})
        assert after_turn.status_code == 200, after_turn.text
    after = snapshot(url)
    for table, rows in before.items():
        assert all(row in after[table] for row in rows), table
    assert not [m for m in after["messages"] if m["content"].startswith("during")]
