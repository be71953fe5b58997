"""bench/procs.py: a server's CPU split into its own code's and the kernel's; a scratch database
put in service."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

import asyncpg
import pytest
from bench import databases, procs

_COMPUTES = "import time\nend = time.time() + 3\nwhile time.time() < end: sum(range(1000))"
# Reading /dev/zero is the kernel filling the buffer: nearly all of it is system time.
_CALLS = (
    "import os, time\nzero = os.open('/dev/zero', os.O_RDONLY)\nend = time.time() + 3\n"
    "while time.time() < end: os.read(zero, 1 << 16)"
)


@dataclass
class _Started:
    process: subprocess.Popen[bytes]


def test_the_kernel_s_share_is_told_apart_from_the_process_s_own() -> None:
    computing = subprocess.Popen([sys.executable, "-c", _COMPUTES])
    calling = subprocess.Popen([sys.executable, "-c", _CALLS])
    try:
        time.sleep(1.5)
        computed = procs.cpu_split(_Started(computing))
        called = procs.cpu_split(_Started(calling))
        total = procs.cpu_seconds(_Started(calling))
    finally:
        computing.kill()
        calling.kill()
        computing.wait()
        calling.wait()

    assert computed[0] > 0.3 and computed[1] < computed[0] / 3
    assert called[1] > 0.3 and called[0] < called[1]
    assert total >= sum(called)  # read a moment later, from the same clocks


@pytest.mark.skipif(not databases.postgres_admin_url(), reason="PostgreSQL not configured")
def test_a_database_in_service_has_turns_and_the_planner_s_statistics_for_them() -> None:
    with (
        procs.backend() as backend_url,
        databases.scratch("postgres") as url,
        procs.graphchat(procs.server_env(url, backend_url), "in-service") as server,
    ):
        before = asyncio.run(_estimated_messages(url))
        procs.in_service(server, url)
        after = asyncio.run(_estimated_messages(url))

    assert before <= 0  # never analyzed (-1) or analyzed empty by a migration (0)
    assert after == 2 * procs.IN_SERVICE_TURNS  # each turn: the question and the reply


async def _estimated_messages(url: str) -> float:
    connection = await asyncpg.connect(url)
    try:
        return float(
            await connection.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'messages'")
        )
    finally:
        await connection.close()
