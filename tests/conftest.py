"""Shared fixtures: the Ollama-protocol test server, databases (SQLite and PostgreSQL), live apps.

PostgreSQL tests use `GRAPHCHAT_TEST_POSTGRES_URL` (an admin URL; `make test` starts a server and
sets it). Without it they are skipped, unless `GRAPHCHAT_TEST_REQUIRE_POSTGRES=1`, where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from graphchat.settings import Settings
from support import pgcluster
from support.fake_ollama import FakeOllama
from support.server import LiveServer, live_server

POSTGRES_ADMIN_URL = os.environ.get("GRAPHCHAT_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("GRAPHCHAT_TEST_REQUIRE_POSTGRES") == "1"
TABLES = "threads, messages, runs, run_events, api_keys, cached_replies"


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(sql: str, url: str = POSTGRES_ADMIN_URL) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not POSTGRES_ADMIN_URL:
        if REQUIRE_POSTGRES:
            pytest.fail(
                "GRAPHCHAT_TEST_REQUIRE_POSTGRES=1 but GRAPHCHAT_TEST_POSTGRES_URL is unset"
            )
        pytest.skip("PostgreSQL not configured (set GRAPHCHAT_TEST_POSTGRES_URL)")
    name = f"graphchat_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def private_cluster() -> Iterator[pgcluster.PrivateCluster]:
    """A PostgreSQL cluster of this test alone, started: one it may stop and start."""
    if not pgcluster.available():
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    made = pgcluster.PrivateCluster().init()
    made.start()
    try:
        yield made
    finally:
        made.destroy()


def _truncate(url: str) -> None:
    async def go() -> None:
        with contextlib.suppress(asyncpg.UndefinedTableError):  # not migrated yet
            await _pg_admin(f"TRUNCATE {TABLES} CASCADE", url)

    asyncio.run(go())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'graphchat.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


@pytest.fixture(scope="session")
def fake_ollama_server() -> Iterator[FakeOllama]:
    fake = FakeOllama().start()
    yield fake
    fake.stop()


@pytest.fixture
def ollama(fake_ollama_server: FakeOllama) -> FakeOllama:
    """The Ollama-protocol test server, with its script and request log cleared."""
    fake_ollama_server.reset()
    return fake_ollama_server


@pytest.fixture
def make_settings(database_url: str, ollama: FakeOllama) -> Callable[..., Settings]:
    """Settings pointing at this test's database and the test Ollama, with overrides."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "ollama_url": ollama.url,
            "log_format": "console",
            "log_level": "warning",
            "sse_heartbeat_seconds": 0.2,
            "titles_from_model": False,  # its extra model call would take scripted replies
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def start_server(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., LiveServer]]:
    """Start (any number of) live servers with setting overrides; all stopped at teardown."""
    servers: list[Any] = []

    def start(**overrides: Any) -> LiveServer:
        context = live_server(make_settings(**overrides))
        server = context.__enter__()
        servers.append(context)
        return server

    yield start
    for context in reversed(servers):
        context.__exit__(None, None, None)


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
