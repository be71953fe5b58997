"""The throughput target is judged on the issue's workload: a new thread per request."""

from __future__ import annotations

from typing import Any

from bench.targets import evaluate
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
