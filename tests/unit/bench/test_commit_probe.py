"""The commit probe times real commits on a real PostgreSQL database and leaves nothing behind;
the targets name what a durable commit costs beside the latencies it sits under."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from bench import commit_probe, databases
from bench.targets import evaluate


@pytest.mark.skipif(not databases.postgres_admin_url(), reason="PostgreSQL not configured")
def test_the_probe_times_each_kind_of_statement_and_drops_its_table() -> None:
    with databases.scratch("postgres") as url:
        probed = commit_probe.probe(url, pace_ms=1.0, rounds=5)
        tables = asyncio.run(_tables(url))

    assert set(probed) == {
        "pace_ms",
        "durable_commit_ms",
        "commit_without_flush_ms",
        "round_trip_ms",
    }
    assert probed["pace_ms"] == 1.0
    assert all(probed[name] > 0 for name in probed)
    assert tables == []  # its own table, dropped


async def _tables(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        found = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        return [row["tablename"] for row in found]
    finally:
        await connection.close()


def _level() -> dict[str, object]:
    return {
        "concurrency": 1,
        "backend": {"p50_ms": 1.0},
        "graphchat": {"p50_ms": 4.3, "server_cpu_ms_per_turn": 2.5},
        "added_ms_p50": 3.3,
    }


def test_the_latency_targets_name_the_commit_cost_where_it_was_probed() -> None:
    probe = {"pace_ms": 4.0, "durable_commit_ms": 1.06, "commit_without_flush_ms": 0.43}
    results = {
        "turn": {
            "postgres": {"levels": [_level()], "commit_probe": probe},
            "sqlite": {"levels": [_level()]},
        },
        "streaming": {
            kind: {"ttft_added_ms_p50": 3.3, "ttft_backend": {"p50_ms": 1.2}}
            for kind in ("postgres", "sqlite")
        },
    }
    verdicts = evaluate(results, ["postgres", "sqlite"])
    named = {"added latency per turn, c=1, p50", "added time to first streamed token"}

    for kind, expected in (("postgres", True), ("sqlite", False)):
        rows = [row for row in verdicts[kind] if row["target"] in named]
        assert len(rows) == 2
        for row in rows:
            said = "a durable commit here 1.06 ms, 0.43 without its flush" in row["context"]
            assert said is expected
            assert row["value"] == 3.3
