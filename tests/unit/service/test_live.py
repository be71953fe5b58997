"""Live runs without HTTP: publish/follow, late followers, cancel and settle."""

from __future__ import annotations

import asyncio

import pytest

from graphchat.service.events import RunEvent
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.store.records import RunStatus


async def _collect(live: LiveRun, after: int = -1) -> list[RunEvent]:
    return [event async for event in live.follow(after)]


async def test_a_follower_sees_every_event_in_order_until_the_final_one() -> None:
    live = LiveRun("r1", "t1")
    following = asyncio.create_task(_collect(live))
    await asyncio.sleep(0)  # the follower is waiting before anything is published
    live.publish("metadata", {"run_id": "r1"})
    live.publish("token", {"text": "a"})
    live.publish("end", {"status": "success"})

    events = await following

    assert [(e.seq, e.event) for e in events] == [(0, "metadata"), (1, "token"), (2, "end")]
    assert live.finished


async def test_a_late_follower_replays_after_the_seq_it_names() -> None:
    live = LiveRun("r1", "t1", first_seq=10)
    for text in "abc":
        live.publish("token", {"text": text})
    live.publish("end", {})

    assert [e.seq for e in await _collect(live, after=11)] == [12, 13]
    assert [e.seq for e in await _collect(live)] == [10, 11, 12, 13]


async def test_a_follower_past_a_finished_run_s_end_gets_nothing_and_does_not_wait() -> None:
    live = LiveRun("r1", "t1", first_seq=10)
    live.publish("token", {"text": "a"})
    live.publish("end", {})

    assert live.goes_on_after(10) and not live.goes_on_after(11)
    async with asyncio.timeout(2):
        assert await _collect(live, after=11) == []
        assert await _collect(live, after=99) == []


async def test_nothing_is_published_after_the_final_event() -> None:
    live = LiveRun("r1", "t1")
    live.publish("error", {"error": {"code": "x"}})

    with pytest.raises(RuntimeError):
        live.publish("token", {"text": "late"})
    assert (await live.wait()).event == "error"


async def test_a_started_run_executes_in_its_own_task_and_leaves_the_registry() -> None:
    runs, release = LiveRuns(), asyncio.Event()

    async def execute(live: LiveRun) -> None:
        await release.wait()
        live.publish("end", {})

    live = LiveRun("r1", "t1")
    runs.start(live, execute)
    assert runs.get("r1") is live and runs.for_thread("t1") == [live]

    release.set()
    await live.settle()

    assert runs.get("r1") is None and runs.all() == []
    assert (await live.wait()).event == "end"


async def test_cancel_stops_the_task_and_records_the_status() -> None:
    runs, started = LiveRuns(), asyncio.Event()
    seen: list[RunStatus] = []

    async def execute(live: LiveRun) -> None:
        try:
            started.set()
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            seen.append(live.cancel_status)
            raise

    live = LiveRun("r1", "t1")
    runs.start(live, execute)
    await started.wait()

    assert await runs.cancel("r1", RunStatus.INTERRUPTED)
    assert seen == [RunStatus.INTERRUPTED]
    assert runs.get("r1") is None
    assert not await runs.cancel("r1")  # no longer here


async def test_shutdown_lets_quick_runs_finish_and_interrupts_the_rest() -> None:
    runs = LiveRuns()
    statuses: dict[str, RunStatus] = {}

    async def quick(live: LiveRun) -> None:
        live.publish("end", {})

    async def stuck(live: LiveRun) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            statuses[live.run_id] = live.cancel_status
            raise

    fast, slow = LiveRun("fast", "t1"), LiveRun("slow", "t2")
    runs.start(fast, quick)
    runs.start(slow, stuck)

    await runs.shutdown(grace_seconds=0.05)

    assert fast.finished and statuses == {"slow": RunStatus.INTERRUPTED}
    assert runs.all() == []


async def test_a_run_whose_task_dies_before_its_final_event_still_ends_every_follower() -> None:
    live_runs = LiveRuns()
    live = LiveRun("r1", "t1")

    async def crash(run: LiveRun) -> None:
        run.publish("metadata", {"run_id": run.run_id})
        raise RuntimeError("a bug between the model and the database")

    live_runs.start(live, crash)
    final = await asyncio.wait_for(live.wait(), timeout=5)

    assert (final.event, final.data["error"]["code"]) == ("error", "internal_error")
    assert [event.event for event in live.events] == ["metadata", "error"]
    assert live_runs.get("r1") is None and not live_runs.holds("r1")


def _followed_run() -> tuple[LiveRun, list[str], asyncio.Task[None]]:
    """A run that published `metadata` and a token, its follower's task (not yet run) and the
    list where that follower notes each event's name."""
    live = LiveRun("r1", "t1")
    taken: list[str] = []

    async def follow() -> None:
        async for event in live.follow():
            taken.append(event.event)

    following = asyncio.create_task(follow())
    live.publish("metadata", {})
    live.publish("token", {"text": "a"})
    return live, taken, following


async def test_heard_returns_once_a_follower_has_taken_every_event() -> None:
    live, taken, following = _followed_run()

    async with asyncio.timeout(10):  # fails here if only the wait's bound would end it
        await live.heard(at_most=3600)

    assert taken == ["metadata", "token"]
    live.publish("end", {})
    await following


async def test_heard_returns_at_once_when_a_follower_took_every_event_before() -> None:
    live, taken, following = _followed_run()
    for _ in range(3):
        await asyncio.sleep(0)
    assert taken == ["metadata", "token"]  # the follower waits for the next event

    async with asyncio.timeout(10):  # fails here if only the wait's bound would end it
        await live.heard(at_most=3600)

    live.publish("token", {"text": "b"})
    async with asyncio.timeout(10):
        await live.heard(at_most=3600)  # a new event: heard once the follower has taken it
    assert taken == ["metadata", "token", "token"]
    live.publish("end", {})
    await following


async def test_heard_gives_up_when_nobody_follows() -> None:
    live = LiveRun("r1", "t1")
    live.publish("token", {"text": "a"})

    async with asyncio.timeout(10):  # fails here if the wait had no bound
        await live.heard(at_most=0.01)

    assert live.followers == 0 and not live.finished


async def test_a_run_of_the_thread_counts_as_another_until_its_final_event() -> None:
    runs = LiveRuns()
    live = LiveRun("r1", "t1")
    ended = asyncio.Event()

    async def execute(_: LiveRun) -> None:
        live.publish("end", {})
        await ended.wait()  # its events still being written, say

    runs.start(live, execute)
    with runs.starting("r2", "t1") as others:
        assert others  # started, its final event not yet published
    with runs.starting("r3", "t2") as others:
        assert not others  # another thread
    await asyncio.sleep(0)  # the run publishes its final event; its task goes on

    with runs.starting("r4", "t1") as others:
        assert not others  # its outcome is stored: it can refuse no turn
        with runs.starting("r5", "t1") as also:
            assert also  # r4 is being stored meanwhile
    assert live.task is not None and not live.task.done()
    ended.set()
    await live.task


async def _pending_after_the_loop_turns(waiting: asyncio.Task[None]) -> bool:
    for _ in range(20):
        await asyncio.sleep(0)
    return not waiting.done()


async def test_executing_waits_for_a_run_and_again_once_every_run_has_ended() -> None:
    live_runs, release = LiveRuns(), asyncio.Event()

    async def execute(live: LiveRun) -> None:
        await release.wait()
        live.publish("end", {})

    idle = asyncio.create_task(live_runs.executing())
    assert await _pending_after_the_loop_turns(idle)
    live_runs.start(LiveRun("r1", "t1"), execute)
    await asyncio.wait_for(idle, timeout=5)
    await asyncio.wait_for(live_runs.executing(), timeout=5)  # at once while one runs

    running = live_runs.get("r1")
    assert running is not None and running.task is not None
    release.set()
    await running.task
    assert await _pending_after_the_loop_turns(asyncio.create_task(live_runs.executing()))
