"""The event writer: a run a client follows is written every tick; one nobody follows only at
checkpoints (and whole when it ends, by the turn recorder)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from graphchat.service.event_writer import EventWriter
from graphchat.service.events import RunEvent
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.service.turn_rules import turn_rules
from graphchat.store import Store
from graphchat.store.records import NewMessage, NewRun


async def _running(store: Store, live_runs: LiveRuns) -> tuple[LiveRun, asyncio.Event]:
    """A stored running run, registered as executing here until the returned event is set."""
    run = NewRun(id="r1", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], turn_rules(None, "m"))
    live, done = LiveRun(run.id, "t"), asyncio.Event()

    async def execute(_: LiveRun) -> None:
        await done.wait()

    live_runs.start(live, execute)
    return live, done


def _writer(store: Store, live_runs: LiveRuns, checkpoint_seconds: float) -> EventWriter:
    return EventWriter(
        store.run_events,
        live_runs,
        interval_seconds=0.05,
        max_per_run=1000,
        checkpoint_seconds=checkpoint_seconds,
    )


async def _stored(store: Store) -> list[int]:
    return [event.seq for event in await store.run_events.after("r1", -1)]


@pytest.fixture
async def running(store: Store) -> AsyncIterator[tuple[LiveRun, EventWriter]]:
    """A run executing here, and a writer whose checkpoint never comes during a test."""
    live_runs = LiveRuns()
    live, done = await _running(store, live_runs)
    yield live, _writer(store, live_runs, checkpoint_seconds=60)
    done.set()


async def _followed(live: LiveRun) -> AsyncGenerator[RunEvent, None]:
    """A client following the run, having read its first event."""
    follower = live.follow()
    live.publish("token", {"text": "a"})
    await anext(follower)
    return follower


async def test_a_tick_writes_nothing_of_a_run_nobody_follows(
    store: Store, running: tuple[LiveRun, EventWriter]
) -> None:
    live, writer = running
    live.publish("token", {"text": "a"})

    await writer.tick()

    assert await _stored(store) == []


async def test_a_tick_writes_the_events_of_a_followed_run(
    store: Store, running: tuple[LiveRun, EventWriter]
) -> None:
    live, writer = running
    follower = await _followed(live)
    live.publish("token", {"text": "b"})

    await writer.tick()

    assert await _stored(store) == [0, 1]
    await follower.aclose()


async def test_what_a_client_saw_before_leaving_is_written_then_no_more(
    store: Store, running: tuple[LiveRun, EventWriter]
) -> None:
    live, writer = running
    await (await _followed(live)).aclose()

    await writer.tick()
    live.publish("token", {"text": "b"})
    await writer.tick()

    assert await _stored(store) == [0]


async def test_a_run_nobody_follows_is_written_at_each_checkpoint(store: Store) -> None:
    live_runs = LiveRuns()
    live, done = await _running(store, live_runs)
    writer = _writer(store, live_runs, checkpoint_seconds=0.1)  # every second tick
    live.publish("token", {"text": "a"})

    await writer.tick()
    before_checkpoint = await _stored(store)
    await writer.tick()

    assert (before_checkpoint, await _stored(store)) == ([], [0])
    done.set()
