"""The throughput target is judged on the issue's workload: a new thread per request."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from bench.targets import evaluate, run
from bench.turn import NEW_THREAD_PER_REQUEST


def _level(turns_per_second: float, **extra: Any) -> dict[str, Any]:
    return {
        "concurrency": 16,
        "backend": {"throughput_rps": 900.0},
        "graphchat": {"throughput_rps": turns_per_second},
        **extra,
    }


def _throughput_row(turn: dict[str, Any]) -> dict[str, Any]:
    rows = evaluate({"turn": {"sqlite": turn}}, ["sqlite"])["sqlite"]
    return next(row for row in rows if row["target"] == "throughput at 16 clients")


def test_new_thread_rows_alone_judge_when_measured() -> None:
    # Each client on its own thread is faster: neither its wrk row nor the plain level counts.
    turn = {
        "levels": [_level(342.0)],
        "throughput": {
            "2": [
                _level(438.0, client="wrk", threads="per client"),
                _level(281.5, client="wrk", threads=NEW_THREAD_PER_REQUEST),
            ],
            "3": [_level(266.0, client="wrk", threads=NEW_THREAD_PER_REQUEST)],
        },
    }
    row = _throughput_row(turn)
    assert row["value"] == 281.5
    assert row["verdict"] == "FAIL"
    assert "2 worker(s), a new thread per request" in row["context"]


def test_older_results_without_new_thread_rows_still_judge() -> None:
    turn = {
        "levels": [_level(342.0)],
        "throughput": {"2": [_level(305.0, client="wrk", threads="per client")]},
    }
    row = _throughput_row(turn)
    assert (row["value"], row["verdict"], row["context"]) == (342.0, "PASS", "16 clients")


def test_saved_runs_are_judged_for_every_database_without_its_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `--from-results` measures nothing: PostgreSQL's saved runs are judged with no server.
    for name in ("GRAPHCHAT_BENCH_POSTGRES_URL", "GRAPHCHAT_TEST_POSTGRES_URL"):
        monkeypatch.delenv(name, raising=False)
    args = argparse.Namespace(databases=["sqlite", "postgres"], from_results=True, quick=False)
    verdicts = run(args)["verdicts"]
    assert set(verdicts) == {"sqlite", "postgres"}
    measured = [row for row in verdicts["postgres"] if row["verdict"] != "NOT MEASURED"]
    assert measured, "bench/results holds PostgreSQL runs"


def _cpu_row(graphchat: dict[str, Any]) -> dict[str, Any]:
    level = {
        "concurrency": 1,
        "backend": {"p50_ms": 1.0},
        "graphchat": graphchat,
        "added_ms_p50": 2.0,
    }
    rows = evaluate({"turn": {"sqlite": {"levels": [level]}}}, ["sqlite"])["sqlite"]
    return next(row for row in rows if row["target"].startswith("server CPU per turn"))


def test_cpu_per_turn_names_the_host_speed_it_was_measured_at() -> None:
    row = _cpu_row({"p50_ms": 3.0, "server_cpu_ms_per_turn": 2.9, "python_loop_ms": 12.4})

    assert (row["value"], row["verdict"]) == (2.9, "PASS")
    assert row["context"] == "c=1, whole server process; the machine's Python loop 12.4 ms"


def test_cpu_per_turn_of_older_results_has_no_loop_to_name() -> None:
    row = _cpu_row({"p50_ms": 3.0, "server_cpu_ms_per_turn": 3.4})

    assert (row["value"], row["verdict"]) == (3.4, "FAIL")
    assert row["context"] == "c=1, whole server process"
