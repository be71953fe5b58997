"""PostgreSQL: a new database's turn tables are analyzed as turns fill them, so the plans a
session keeps for a turn's statements stop scanning a thread's every message (issue 14)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from tests.support.server import LiveServer

from graphchat.store.young_tables import CHECK_AFTER_TURNS


async def _fetch(database_url: str, sql: str) -> Any:
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def _manual_analyses(database_url: str) -> int:
    # Autovacuum's own analyses count apart (autoanalyze_count).
    sql = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'messages'"
    return int(asyncio.run(_fetch(database_url, sql)))


def _estimated_messages(database_url: str) -> float:
    sql = "SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass"
    return float(asyncio.run(_fetch(database_url, sql)))


def test_a_new_database_is_analyzed_once_its_turns_outgrow_the_statistics(
    start_server: Callable[..., LiveServer], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite keeps no plans between turns")
    server = start_server(rate_limit="")  # a hundred turns in a second
    before = _manual_analyses(database_url)
    turns = CHECK_AFTER_TURNS[0]
    with server.client() as api:
        for index in range(turns - 1):
            api.post("/chat", json={"message": f"turn {index}"}).raise_for_status()
        time.sleep(0.2)  # nothing is analyzed before the threshold
        assert _manual_analyses(database_url) == before
        api.post("/chat", json={"message": "the last turn"}).raise_for_status()
    deadline = time.monotonic() + 10
    while _manual_analyses(database_url) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _manual_analyses(database_url) == before + 1
    # Analyzed once the last turn began: every question, and every answer but the last.
    assert _estimated_messages(database_url) >= 2 * turns - 1
