"""Thread search and run statuses: each thread once, with its latest run's status."""

from __future__ import annotations

from sqlalchemy import update

from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import NewMessage, NewRun, RunOutcome, RunStatus, TurnRules
from graphchat.store.tables import RUNS
from graphchat.store.thread_search import ThreadQuery

RULES = TurnRules(model=lambda model: model or "m", title=lambda title, messages: title)


async def _turn(store: Store, run_id: str, thread_id: str, status: RunStatus) -> None:
    run = NewRun(id=run_id, owner="o", thread_id=thread_id, model=None, params={}, worker_id="w")
    start = await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], RULES)
    reply = message_rows(
        thread_id, run_id, [NewMessage(role="assistant", content="ok")], start.tail
    )
    await store.runs.finish(thread_id, run_id, RunOutcome(status), reply)


async def test_each_thread_is_found_once_with_its_latest_runs_status(store: Store) -> None:
    await _turn(store, "a1", "a", RunStatus.ERROR)
    await _turn(store, "a2", "a", RunStatus.SUCCESS)
    await _turn(store, "b1", "b", RunStatus.CANCELLED)
    await _turn(store, "c1", "c", RunStatus.SUCCESS)
    await _turn(store, "c2", "c", RunStatus.ERROR)
    # Runs of one thread that started in the same microsecond: found once all the same.
    async with store.engine.begin() as connection:
        first = (await connection.execute(RUNS.select().where(RUNS.c.id == "c1"))).one()
        await connection.execute(
            update(RUNS).where(RUNS.c.id == "c2").values(created_at=first.created_at)
        )

    found = await store.thread_search.search(ThreadQuery(owner="o", limit=10))
    statuses = await store.thread_search.last_run_statuses("o", ["a", "b", "c", "none"])
    failed = await store.thread_search.search(
        ThreadQuery(owner="o", statuses=[RunStatus.ERROR], limit=10)
    )

    assert sorted(item.thread.id for item in found) == ["a", "b", "c"]
    assert {item.thread.id: item.last_run_status for item in found} == {
        "a": RunStatus.SUCCESS,
        "b": RunStatus.CANCELLED,
        "c": statuses["c"],
    }
    assert {key: statuses[key] for key in ("a", "b")} == {
        "a": RunStatus.SUCCESS,
        "b": RunStatus.CANCELLED,
    }
    assert "none" not in statuses
    assert [item.thread.id for item in failed] == (
        ["c"] if statuses["c"] is RunStatus.ERROR else []
    )


async def test_another_owners_threads_have_no_status_here(store: Store) -> None:
    await _turn(store, "a1", "a", RunStatus.SUCCESS)

    assert await store.thread_search.last_run_statuses("someone else", ["a"]) == {}
    assert await store.thread_search.last_run_statuses("o", ["a"]) == {"a": RunStatus.SUCCESS}
