"""A run that another replica closes as interrupted (it took this process for dead) while the
model is still answering: the caller still gets an answer, never a request that hangs, and
what the other replica stored stays as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from graphchat.service.live import LiveRuns
from graphchat.service.monitor import RunMonitor
from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.records import RunStatus
from graphchat.store.threads import utcnow
from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

THREAD = "t-closed-elsewhere"


async def _running_run_id(store: Store) -> str:
    for _ in range(200):
        active = await store.runs.active(THREAD)
        if active is not None:
            return active.id
        await asyncio.sleep(0.02)
    raise AssertionError("the turn never started")


def _replica_that_thinks_we_died(store: Store) -> RunMonitor:
    """Another replica whose clock runs an hour ahead: every heartbeat looks stale to it."""
    return RunMonitor(
        store,
        LiveRuns(),
        "another-host:1:abcd",
        heartbeat_seconds=1,
        stale_seconds=30,
        retention=timedelta(hours=1),
        clock=lambda: utcnow() + timedelta(hours=1),
    )


async def test_the_caller_gets_an_answer_when_another_replica_closes_its_run(
    start_server: Callable[..., LiveServer], ollama: FakeOllama, database_url: str
) -> None:
    server = start_server()
    ollama.queue(Reply(tokens=["Hel", "lo"], first_token_delay=1.0))
    store = await Store.open(Settings(database_url=database_url).database)
    try:
        with ThreadPoolExecutor(1) as pool, server.client() as client:
            body = {"message": "hi", "thread_id": THREAD}
            pending = pool.submit(client.post, "/chat", json=body, timeout=30)
            run_id = await _running_run_id(store)
            assert await _replica_that_thinks_we_died(store).recover() == 1
            response = await asyncio.wrap_future(pending)
        run = await store.runs.by_id(run_id)
    finally:
        await store.close()

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "run_interrupted"
    # The other replica's record stands: closed as interrupted, the thread free again.
    assert run is not None and run.status == RunStatus.INTERRUPTED
    with server.client() as client:
        again = client.post("/chat", json={"message": "still there?", "thread_id": THREAD})
    assert again.status_code == 200, again.text
