"""A short soak against `graphchat serve`: concurrent clients mixing every kind of request.

0 server errors, 0 unanswered requests, every accepted turn's user message and reply stored
exactly once (counted in the database), no run left `running`, memory back near idle.
`python -m bench soak` runs the long version (64 clients, 60 s) and reports the figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from support.db import query
from support.fake_ollama import FakeOllama, Reply
from support.process import ServerProcess, running, server_env
from support.soak import audit, soak

CLIENTS = 16
SECONDS = 15.0
MAX_ACTIONS = 600


@pytest.fixture
def served(database_url: str, ollama: FakeOllama, tmp_path: Path) -> Iterator[ServerProcess]:
    # Slow enough that cancels and dropped streams meet runs still going.
    ollama.queue(*[Reply(tokens=[f"t{i} " for i in range(12)], token_delay=0.01)] * 5000)
    env = server_env(database_url, ollama.url, GRAPHCHAT_LOG_LEVEL="warning")
    with running(env, tmp_path / "server.log") as server:
        yield server


def _rss(server: ServerProcess) -> int:
    assert server.process is not None
    return int(psutil.Process(server.process.pid).memory_info().rss)


def test_a_soak_stores_every_accepted_turn_exactly_once(
    served: ServerProcess, database_url: str
) -> None:
    asyncio.run(soak(served.url, clients=CLIENTS, seconds=2, max_actions=CLIENTS * 2))  # warm
    idle = _rss(served)
    result = asyncio.run(
        soak(served.url, clients=CLIENTS, seconds=SECONDS, max_actions=MAX_ACTIONS)
    )

    assert result.server_errors == 0, result.figures()
    assert result.unanswered == [], result.unanswered[:5]
    assert len(result.accepted) >= 50, result.figures()
    deadline = time.monotonic() + 60
    while query(database_url, "SELECT id FROM runs WHERE status = 'running'"):
        assert time.monotonic() < deadline, "runs left running"
        time.sleep(0.2)
    counted = audit(database_url, result)
    assert counted["user_not_once"] == [] and counted["reply_not_once"] == [], counted
    assert counted["running"] == 0
    assert _rss(served) < idle * 1.5 + 64 * 2**20, (idle, _rss(served))
