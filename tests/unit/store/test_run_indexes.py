"""Which index finds a thread's paused run and the running runs (migration 0013): partial indexes
that a turn's status changes do not write, where a run's status had an index of its own."""

from __future__ import annotations

from sqlalchemy import exists, select, text
from sqlalchemy.sql import Select

from graphchat.store import Store
from graphchat.store.pauses import PAUSED
from graphchat.store.runs import _RUNNING
from graphchat.store.tables import RUNS


async def _plan(store: Store, query: Select[tuple[object, ...]]) -> str:
    dialect = store.engine.dialect
    sql = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    async with store.engine.begin() as connection:
        if dialect.name == "sqlite":
            rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            return "\n".join(str(row[-1]) for row in rows)
        # The tables are nearly empty: reading them whole would be cheapest.
        await connection.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await connection.execute(text(f"EXPLAIN {sql}"))
        return "\n".join(str(row[0]) for row in rows)


async def test_a_threads_paused_run_is_found_by_the_paused_runs_index(store: Store) -> None:
    plan = await _plan(store, select(exists().where(RUNS.c.thread_id == "t", PAUSED)))

    assert "ix_runs_paused_thread_id" in plan, plan


async def test_the_running_runs_are_found_by_the_index_of_running_runs(store: Store) -> None:
    plan = await _plan(store, select(RUNS.c.id, RUNS.c.worker_id).where(_RUNNING))

    assert "uq_runs_one_running_per_thread" in plan, plan
