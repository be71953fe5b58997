"""`bench startup`'s idle reading, and its section of the report with and without it."""

from __future__ import annotations

import threading
import time
from typing import Any

import psutil
from bench import sections, startup


def test_an_idle_process_reads_as_a_small_share_of_a_core_and_its_rss() -> None:
    idle = startup._idle(psutil.Process(), 0.2)  # this process sleeps meanwhile

    assert 0 <= idle["idle_cpu_percent"] < 50
    assert idle["idle_rss_mb"] > 1


def test_a_busy_process_reads_as_most_of_a_core() -> None:
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        busy = startup._idle(psutil.Process(), 0.3)
    finally:
        stop.set()
        spinner.join()
    assert busy["idle_cpu_percent"] > 50


def _measured(idle: dict[str, float] | None) -> dict[str, Any]:
    summary = {"p50_ms": 1000.0, "max_ms": 1200.0}
    measured: dict[str, Any] = {
        "to_health": summary,
        "cpu_to_health": summary,
        "to_first_turn": summary,
    }
    return measured | ({"idle": idle} if idle is not None else {})


def test_the_report_shows_idleness_where_it_was_measured_and_a_dash_where_not() -> None:
    result = {
        "parameters": {"starts": 7},
        "sqlite": _measured({"seconds": 20.0, "cpu_percent": 0.52, "rss_mb": 131.5}),
        "postgres": _measured(None),
    }

    text = sections.startup_section(result)

    assert "| sqlite | 1,000 | 1,000 | 1,200 | 1,000 | 0.52 | 132 |" in text
    assert "| postgres | 1,000 | 1,000 | 1,200 | 1,000 | — | — |" in text
