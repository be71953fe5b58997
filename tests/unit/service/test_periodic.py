"""The timer loop of the event writer and the run monitor: a tick the database refuses is
logged and skipped, a tick that fails otherwise is logged as an error, and the loop goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from structlog.testing import capture_logs

from graphchat.errors import StoreUnavailable
from graphchat.service.periodic import every


async def _run_ticks(failures: dict[int, Exception], until: int) -> tuple[int, list[Any]]:
    """Run `every` with a tick that raises `failures[n]` on its n-th call, until its `until`-th
    call; how many ticks ran, and what was logged."""
    ticks = 0
    reached = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        ticks += 1
        if ticks in failures:
            raise failures[ticks]
        if ticks == until:
            reached.set()

    with capture_logs() as logs:
        loop = asyncio.create_task(every(0, tick, structlog.get_logger(), "ticks_skipped"))
        await asyncio.wait_for(reached.wait(), timeout=5)
        loop.cancel()
    return ticks, logs


async def test_a_refused_tick_is_logged_and_the_next_one_runs() -> None:
    ticks, logs = await _run_ticks({1: StoreUnavailable("database down")}, until=3)
    assert ticks >= 3
    assert [(entry["event"], entry["error"]) for entry in logs] == [
        ("ticks_skipped", "database down")
    ]


async def test_with_busy_nothing_ticks_until_there_is_work() -> None:
    ticks = 0
    work, ticked = asyncio.Event(), asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        ticks += 1
        ticked.set()

    loop = asyncio.create_task(
        every(0, tick, structlog.get_logger(), "ticks_skipped", busy=work.wait)
    )
    for _ in range(20):  # a zero-second timer would have ticked on most of these turns
        await asyncio.sleep(0)
    assert ticks == 0
    work.set()
    await asyncio.wait_for(ticked.wait(), timeout=5)
    loop.cancel()
    assert ticks >= 1


async def test_a_failing_tick_is_logged_as_an_error_and_the_loop_goes_on() -> None:
    broken = {n: RuntimeError(f"broken {n}") for n in (1, 2)}
    ticks, logs = await _run_ticks(broken, until=4)
    assert ticks >= 4
    # The traceback once per run of failures.
    assert [(e["event"], e["log_level"], e["error"], e["exc_info"]) for e in logs] == [
        ("ticks_skipped", "error", "broken 1", True),
        ("ticks_skipped", "error", "broken 2", False),
    ]
