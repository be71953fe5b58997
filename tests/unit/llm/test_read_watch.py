"""ReadWatch: each wait for a step of a reply is bounded; time between steps never counts."""

from __future__ import annotations

import asyncio

import pytest

from graphchat.errors import ProviderTimeout
from graphchat.llm.timeouts import ReadWatch

_FAR = 3600.0


def _deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_a_step_slower_than_its_bound_times_out_and_leaves_the_task_usable() -> None:
    watch = ReadWatch(_deadline(_FAR))

    with pytest.raises(ProviderTimeout, match="the reply stalled"):
        await watch.within(asyncio.sleep(5), 0.05, "the reply stalled")
    watch.close()

    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    assert await asyncio.wait_for(asyncio.sleep(0.01, "still here"), 1) == "still here"


async def test_time_spent_between_steps_never_counts_against_a_step() -> None:
    watch = ReadWatch(_deadline(_FAR))
    results = []
    for step in range(4):
        results.append(await watch.within(asyncio.sleep(0.01, step), 0.1, "stalled"))
        await asyncio.sleep(0.15)  # the reader busy between steps, longer than a step's bound
    watch.close()

    assert results == [0, 1, 2, 3]


async def test_steps_each_within_their_bound_go_on_past_it_in_all() -> None:
    watch = ReadWatch(_deadline(_FAR))
    for step in range(8):
        assert await watch.within(asyncio.sleep(0.03, step), 0.1, "stalled") == step
    watch.close()


async def test_the_overall_deadline_wins_over_a_longer_step_bound() -> None:
    watch = ReadWatch(_deadline(0.05))

    with pytest.raises(ProviderTimeout, match="total time"):
        await watch.within(asyncio.sleep(5), 60, "stalled")
    watch.close()


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    watch = ReadWatch(_deadline(_FAR))
    step = asyncio.create_task(watch.within(asyncio.sleep(5), 60, "stalled"))
    await asyncio.sleep(0.01)

    step.cancel()

    with pytest.raises(asyncio.CancelledError):
        await step
    watch.close()


async def test_a_step_awaited_by_another_task_than_the_first_is_still_bounded() -> None:
    """A reply's first step read by a task of its own, the rest by the node's (agent/opening.py)."""

    async def first_step() -> tuple[ReadWatch, int]:
        watch = ReadWatch(_deadline(_FAR))
        return watch, await watch.within(asyncio.sleep(0.01, 1), 0.1, "stalled")

    watch, first = await asyncio.create_task(first_step())
    with pytest.raises(ProviderTimeout, match="stalled"):
        await watch.within(asyncio.sleep(5), 0.05, "stalled")
    watch.close()

    assert first == 1
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
