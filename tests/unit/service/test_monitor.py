"""The run monitor without HTTP: stale runs are found with an injected clock, closed as
interrupted with what the model had said, and a live or fresh run is left alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from graphchat.service.live import LiveRun, LiveRuns
from graphchat.service.monitor import RunMonitor, new_worker_id
from graphchat.store import Store
from graphchat.store.records import NewMessage, NewRun, RunEvent, RunStatus, TurnRules
from support.clock import FakeClock

STALE = timedelta(seconds=30)
ELSEWHERE = "another-host:1234:abcd"  # a worker on another host: only its heartbeat tells


async def _wait_forever(live: LiveRun) -> None:
    await asyncio.Event().wait()


RULES = TurnRules(model=lambda thread_model: thread_model, title=lambda title, _messages: title)


def _monitor(store: Store, clock: FakeClock, live: LiveRuns | None = None) -> RunMonitor:
    return RunMonitor(
        store,
        live or LiveRuns(),
        new_worker_id(),
        heartbeat_seconds=1,
        stale_seconds=STALE.total_seconds(),
        retention=timedelta(hours=1),
        clock=clock,
    )


async def _begin(store: Store, run_id: str = "r1", worker_id: str = ELSEWHERE) -> None:
    run = NewRun(
        id=run_id, owner="alice", thread_id="t1", model="m", params={}, worker_id=worker_id
    )
    await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], RULES)


async def test_a_run_with_a_fresh_heartbeat_is_left_running(store: Store) -> None:
    await _begin(store)

    assert await _monitor(store, FakeClock()).recover() == 0
    run = await store.runs.by_id("r1")
    assert run is not None and run.status == RunStatus.RUNNING


async def test_a_silent_run_is_interrupted_once_its_heartbeat_is_stale(store: Store) -> None:
    await _begin(store)
    clock = FakeClock()
    monitor = _monitor(store, clock)

    clock.now += STALE - timedelta(seconds=1)
    assert await monitor.recover() == 0
    clock.now += timedelta(seconds=2)
    assert await monitor.recover() == 1

    run = await store.runs.by_id("r1")
    assert run is not None and run.status == RunStatus.INTERRUPTED
    assert await store.runs.active("t1") is None  # the thread is free again
    assert await monitor.recover() == 0


async def test_the_partial_reply_streamed_before_the_crash_is_kept(store: Store) -> None:
    await _begin(store)
    await store.run_events.append(
        [
            RunEvent("r1", 0, "metadata", {"run_id": "r1"}),
            RunEvent("r1", 1, "token", {"message_id": "m9", "text": "Hel"}),
            RunEvent("r1", 2, "token", {"message_id": "m9", "text": "lo"}),
        ]
    )
    clock = FakeClock()
    clock.now += STALE * 2

    assert await _monitor(store, clock).recover() == 1

    messages = await store.messages.of_run("r1")
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "hi", "complete"),
        ("assistant", "Hello", "interrupted"),
    ]
    events = await store.run_events.after("r1", 2)
    assert [(e.event, e.data["status"]) for e in events] == [("end", "interrupted")]


async def test_a_run_live_in_this_process_is_never_interrupted(store: Store) -> None:
    await _begin(store)
    live_runs = LiveRuns()
    live_runs.start(LiveRun("r1", "t1"), _wait_forever)
    clock = FakeClock()
    clock.now += STALE * 10

    try:
        assert await _monitor(store, clock, live_runs).recover() == 0
    finally:
        await live_runs.cancel("r1")


async def test_a_run_this_process_is_still_starting_is_never_interrupted(store: Store) -> None:
    live_runs = LiveRuns()
    monitor = _monitor(store, FakeClock(), live_runs)

    with live_runs.starting("r1", "t1"):  # stored as running, its task not started yet
        await _begin(store, worker_id=monitor.worker_id)
        assert await monitor.recover() == 0
    # It never started here: its task is gone, so it is closed.
    assert await monitor.recover() == 1
    run = await store.runs.by_id("r1")
    assert run is not None and run.status == RunStatus.INTERRUPTED
