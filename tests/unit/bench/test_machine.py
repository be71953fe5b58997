"""The machine's state around a run, as result files keep it and the report shows it."""

from __future__ import annotations

from typing import Any

from bench import machine, report


def test_the_loop_is_timed_in_milliseconds_of_cpu() -> None:
    measured = machine.python_loop_ms()

    assert 0.1 < measured < 10_000  # 50,000 steps: milliseconds on any machine that runs this


def test_a_state_is_named_for_its_moment() -> None:
    state = machine.State(load=[0.5, 0.4, 0.3], python_loop_ms=7.25)

    assert state.named("at_end") == {"load_at_end": [0.5, 0.4, 0.3], "python_loop_ms_at_end": 7.25}


def test_now_reads_the_load_and_times_the_loop() -> None:
    state = machine.now()

    assert len(state.load) == 3 and all(value >= 0 for value in state.load)
    assert state.python_loop_ms > 0
    assert set(state.named("at_start")) == {"load_at_start", "python_loop_ms_at_start"}


def test_the_report_shows_the_loop_or_a_dash_for_older_results() -> None:
    timed = {"python_loop_ms_at_start": 7.04, "python_loop_ms_at_end": 12.96}

    assert report._loop(timed) == "7.0 → 13.0"
    assert report._loop({"load_at_start": [1.0, 1.0, 1.0]}) == "—"


def test_one_run_of_the_loop_is_timed_too() -> None:
    assert 0.1 < machine.loop_once_ms() < 10_000


def _result(postgresql: str | None) -> dict[str, Any]:
    machine_block = {
        "cpu": "AMD EPYC",
        "cores": 2,
        "ram_gb": 23.5,
        "os": "Linux",
        "python": "3.11.2",
        "sqlite": "3.40.1",
        "postgresql": postgresql,
        "date": "2026-12-07 14:00 UTC",
        "load_at_start": [1.0, 1.0, 1.0],
        "load_at_end": [1.0, 1.0, 1.0],
    }
    return {"machine": machine_block, "seconds": 1.0}


def test_the_machine_table_names_the_database_a_run_measured_not_one_that_reached_none() -> None:
    judged_without_a_server = {"turn": _result("15.18"), "targets": _result(None)}
    never_reached = {"targets": _result(None)}

    assert "| PostgreSQL | 15.18 |" in report._machine(judged_without_a_server)
    assert "| PostgreSQL | not measured |" in report._machine(never_reached)


_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC
stepping\t: 1

processor\t: 1
cpu family\t: 25
model\t\t: 17
model name\t: Other
"""


def test_the_cpu_is_named_with_its_family_and_model() -> None:
    assert machine.cpu_name(_CPUINFO) == "AMD EPYC (family 26, model 2)"


def test_a_cpu_without_family_keeps_its_name_and_none_without_a_name() -> None:
    assert machine.cpu_name("processor\t: 0\nmodel name\t: Neoverse\n") == "Neoverse"
    assert machine.cpu_name("processor\t: 0\nCPU implementer\t: 0x41\n") is None
