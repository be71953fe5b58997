"""The README's performance summary: every target per database, between its markers."""

from __future__ import annotations

from typing import Any

import pytest
from bench import readme

from support.bench_results import MACHINE


def _row(target: str, value: float, verdict: str, backend: float | None = None) -> dict[str, Any]:
    limit = "≤ 3.0 ms"
    context = "c=1"
    return {
        "target": target,
        "limit": limit,
        "value": value,
        "backend_alone": backend,
        "context": context,
        "verdict": verdict,
    }


VERDICTS = {
    "sqlite": [_row("added latency", 17.25, "FAIL", 1.76), _row("server CPU", 2.5, "PASS")],
    "postgres": [
        _row("added latency", 42.5, "FAIL", 1.47),
        {"target": "server CPU", "verdict": "NOT MEASURED"},
    ],
}
RESULTS = {"targets": {"machine": MACHINE}}


def test_summary_has_a_row_per_target_with_each_databases_value_and_verdict() -> None:
    text = readme.summary(RESULTS, VERDICTS)

    assert "| target | SQLite | PostgreSQL | limit |" in text
    assert (
        "| added latency | 17.25 ms: FAIL (backend alone 1.76; c=1)"
        " | 42.5 ms: FAIL (backend alone 1.47; c=1) | ≤ 3.0 ms |"
    ) in text
    assert "| server CPU | 2.5 ms: PASS (c=1) | not measured | ≤ 3.0 ms |" in text


def test_a_value_that_rounds_onto_its_limit_keeps_the_digits_that_decide_its_verdict() -> None:
    verdicts = {"sqlite": [_row("added latency", 3.004, "FAIL"), _row("server CPU", 3.0, "PASS")]}

    text = readme.summary(RESULTS, verdicts)

    assert "| added latency | 3.004 ms: FAIL (c=1) | ≤ 3.0 ms |" in text
    assert "| server CPU | 3 ms: PASS (c=1) | ≤ 3.0 ms |" in text


def test_summary_names_the_machine_date_and_load_of_the_judged_run() -> None:
    text = readme.summary(RESULTS, VERDICTS)

    assert (
        "on 2026-01-02 03:04 UTC (Test CPU 9000, 2 cores, 4.0 GB RAM; load average 1.5–2.25)"
        in text
    )


def test_the_machine_names_its_system_when_the_run_recorded_it() -> None:
    machine = {**MACHINE, "os": "Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36"}

    text = readme.summary({"targets": {"machine": machine}}, VERDICTS)

    assert "(Test CPU 9000, 2 cores, 4.0 GB RAM, Linux-6.18.44-fc-v1272-x86_64; load" in text


def test_only_the_text_between_the_markers_is_rewritten() -> None:
    text = f"# Title\n\nbefore\n{readme.BEGIN}\nold numbers\n{readme.END}\n\nafter\n"

    replaced = readme.replace(text, RESULTS, VERDICTS)

    assert replaced.startswith("# Title\n\nbefore\n" + readme.BEGIN)
    assert replaced.endswith(readme.END + "\n\nafter\n")
    assert "old numbers" not in replaced
    assert "17.25 ms" in replaced


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        readme.replace("# Title\n", RESULTS, VERDICTS)


def test_the_throughput_chart_is_shown_with_the_date_of_its_own_run() -> None:
    turn = {"machine": MACHINE | {"date": "2025-12-31 23:00 UTC"}}

    text = readme.summary(RESULTS | {"turn": turn}, VERDICTS)

    assert "Throughput against clients, `python -m bench turn` on 2025-12-31 23:00 UTC" in text
    assert "![Throughput vs clients](docs/img/throughput-vs-clients.svg)" in text
    assert "throughput-vs-clients.svg" not in readme.summary(RESULTS, VERDICTS)
