"""Scratch databases: a SQLite file in a temp dir, or a fresh PostgreSQL database, dropped after."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import asyncpg
import psutil

KINDS = ("sqlite", "postgres")


def postgres_admin_url() -> str:
    """An admin URL (`source scripts/test-services.sh` exports it); empty: PostgreSQL skipped."""
    return os.environ.get("GRAPHCHAT_BENCH_POSTGRES_URL") or os.environ.get(
        "GRAPHCHAT_TEST_POSTGRES_URL", ""
    )


def available(kinds: list[str]) -> list[str]:
    """The requested kinds this machine can run (PostgreSQL needs an admin URL)."""
    return [kind for kind in kinds if kind != "postgres" or postgres_admin_url()]


async def _admin(sql: str, url: str) -> str:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return str(await connection.fetchval(sql))
    finally:
        await connection.close()


def analyze(url: str) -> None:
    """Gather the planner's statistics, as autovacuum does within a minute of a table's growth."""
    asyncio.run(_admin("ANALYZE", url))


def postgres_version() -> str | None:
    url = postgres_admin_url()
    return asyncio.run(_admin("SHOW server_version", url)) if url else None


def sqlite_version() -> str:
    return sqlite3.sqlite_version


@contextmanager
def scratch(kind: str) -> Iterator[str]:
    """A database URL for one benchmark; the database is removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="graphchat-bench-") as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    admin = postgres_admin_url()
    name = f"graphchat_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"', admin))
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin))


_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


def local_server(kind: str) -> int | None:
    """The pid of the database server's main process when it runs on this machine (PostgreSQL's
    postmaster; its backends are its children), None for SQLite or a server elsewhere."""
    admin = postgres_admin_url()
    if kind != "postgres" or (urlsplit(admin).hostname or "") not in _LOCAL_HOSTS:
        return None
    return asyncio.run(_postmaster(admin))


async def _postmaster(url: str) -> int | None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:  # the backend's parent, looked up while the backend still serves this connection
        backend = psutil.Process(await connection.fetchval("SELECT pg_backend_pid()"))
        postmaster = backend.parent()
    except psutil.NoSuchProcess:
        return None
    finally:
        await connection.close()
    return int(postmaster.pid) if postmaster is not None else None
