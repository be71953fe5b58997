"""The timer loop of the event writer and the run monitor: a tick the database refuses is
logged and skipped, and the loop goes on."""

from __future__ import annotations

import asyncio

import structlog
from structlog.testing import capture_logs

from graphchat.errors import StoreUnavailable
from graphchat.service.periodic import every


async def test_a_refused_tick_is_logged_and_the_next_one_runs() -> None:
    ticks = 0
    third = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 1:
            raise StoreUnavailable("database down")
        if ticks == 3:
            third.set()

    with capture_logs() as logs:
        loop = asyncio.create_task(every(0, tick, structlog.get_logger(), "ticks_skipped"))
        await asyncio.wait_for(third.wait(), timeout=5)
        loop.cancel()
    assert ticks >= 3
    assert [(entry["event"], entry["error"]) for entry in logs] == [
        ("ticks_skipped", "database down")
    ]
