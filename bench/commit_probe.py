"""What one commit costs this machine's PostgreSQL at a turn's pace: the floor under a turn.

A PostgreSQL turn commits twice, begin and finish, and each answer waits for the commit's WAL
flush (graphchat commits durably; SQLite's `synchronous=NORMAL` does not flush at commit). On a
virtual disk a flush after a few idle milliseconds costs far more than back to back
(bench/analysis.md, rounds 39 and 43). `probe(url)` sends, one every `pace_ms` as a c=1 turn
sends its statements, a one-row INSERT committed durably, the same with `synchronous_commit =
off` (diagnosis only: the flush taken out), and `SELECT 1` (the round trip alone), in rotation
so that all three see the same minutes, and returns each one's median round trip.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg

_CREATE = "CREATE TABLE bench_commit_probe (id bigserial PRIMARY KEY, body text)"
_INSERT = "INSERT INTO bench_commit_probe (body) VALUES ($1)"
_DROP = "DROP TABLE IF EXISTS bench_commit_probe"
_BODY = "x" * 2_000  # about a finished run's events row, as stored


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    began = time.perf_counter()
    await call()
    return (time.perf_counter() - began) * 1000


async def _probe(url: str, pace_ms: float, rounds: int) -> dict[str, float]:
    durable = await asyncpg.connect(url)
    lazy = await asyncpg.connect(url)
    try:
        await durable.execute(_CREATE)
        await lazy.execute("SET synchronous_commit = off")
        calls = {
            "durable_commit_ms": lambda: durable.execute(_INSERT, _BODY),
            "commit_without_flush_ms": lambda: lazy.execute(_INSERT, _BODY),
            "round_trip_ms": lambda: durable.fetchval("SELECT 1"),
        }
        times: dict[str, list[float]] = {name: [] for name in calls}
        for index in range(rounds + 10):  # the first ten rounds warm the statements up
            for name, call in calls.items():
                await asyncio.sleep(pace_ms / 1000)
                took = await _timed(call)
                if index >= 10:
                    times[name].append(took)
        return {"pace_ms": pace_ms} | {
            name: round(statistics.median(values), 3) for name, values in times.items()
        }
    finally:
        await durable.execute(_DROP)
        await asyncio.gather(durable.close(), lazy.close())


def probe(url: str, pace_ms: float = 4.0, rounds: int = 300) -> dict[str, float]:
    """Median round trips (ms) of a durable commit, one without its flush and `SELECT 1`, each
    sent `pace_ms` after the last answer, on the PostgreSQL database at `url`."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    return asyncio.run(_probe(plain, pace_ms, rounds))
