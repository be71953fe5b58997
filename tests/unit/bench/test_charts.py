"""The charts drawn from benchmark results: valid SVG, one mark per value, values as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from bench import charts
from bench.svg import number, ticks

from support.bench_results import MACHINE

SVG = "{http://www.w3.org/2000/svg}"
PROFILE = """300 requests
own time per package
    4.50 ms/request  ~
    2.00 ms/request  langgraph
    1.50 ms/request  fastapi
    1.00 ms/request  graphchat.service
    0.50 ms/request  graphchat.store
    0.50 ms/request  sqlalchemy

graphchat functions, cumulative
   13.16 ms/request  graphchat/agent/nodes.py:38(call_model)
"""


def _latency(p50: float, p99: float) -> dict[str, float]:
    return {"p50_ms": p50, "p99_ms": p99}


def _history() -> dict[str, Any]:
    return {
        "machine": MACHINE,
        "parameters": {"short": 10, "long": 10_000},
        "sqlite": {"short": _latency(12.5, 30.0), "long": _latency(13.25, 31.0)},
        "postgres": {"short": _latency(14.0, 40.0), "long": _latency(15.5, 44.0)},
    }


def _level(concurrency: int, graphchat: float, backend: float) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "graphchat": {"throughput_rps": graphchat, "server_cpu_ms_per_turn": 12.75},
        "backend": {"throughput_rps": backend},
    }


def _turn() -> dict[str, Any]:
    levels = [_level(1, 29.6, 471.5), _level(16, 71.1, 380.0), _level(64, 70.2, 390.0)]
    return {"machine": MACHINE, "sqlite": {"levels": levels}}


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output)


def _texts(root: ET.Element, cls: str) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def _count(root: ET.Element, tag: str, cls: str) -> int:
    return sum(1 for element in root.iter(f"{SVG}{tag}") if element.get("class") == cls)


def test_turn_latency_has_a_labelled_point_per_database_statistic_and_thread_length() -> None:
    root = _parse(charts.turn_latency({"history": _history()}))

    assert _count(root, "circle", "point") == 2 * 2 * 2
    assert {"12.5", "13.25", "30", "31", "14", "15.5", "40", "44"} == set(_texts(root, "value"))
    assert _texts(root, "category") == ["10", "10,000"]
    assert _texts(root, "legend") == [
        "SQLite p50",
        "SQLite p99",
        "PostgreSQL p50",
        "PostgreSQL p99",
    ]


def test_every_chart_states_its_axes_units_and_the_machine_and_date_measured_on() -> None:
    results = {"history": _history(), "turn": _turn()}
    for svg in (charts.turn_latency(results), charts.throughput(results)):
        root = _parse(svg)
        (source,) = _texts(root, "source")

        assert root.find(f"{SVG}title") is not None
        assert "Test CPU 9000, 2 cores" in source
        assert "2026-01-02 03:04 UTC" in source
        assert "load 1.5 → 2.2" in source
        assert "(ms)" in _texts(root, "y-label")[0] or "/s" in _texts(root, "y-label")[0]
        assert _texts(root, "x-label") != [""]


def test_turn_latency_uses_every_length_when_the_bench_records_a_list_of_them() -> None:
    history = _history()
    history["sqlite"]["lengths"] = [
        {"messages": n, "p50_ms": 10.0 + i, "p99_ms": 20.0 + i}
        for i, n in enumerate((10, 1_000, 100_000))
    ]
    del history["postgres"]

    root = _parse(charts.turn_latency({"history": history}))

    assert _texts(root, "category") == ["10", "1,000", "100,000"]
    assert _count(root, "circle", "point") == 3 * 2


def test_throughput_has_a_point_per_side_and_level_and_the_target_line() -> None:
    root = _parse(charts.throughput({"turn": _turn()}))

    assert _count(root, "circle", "point") == 2 * 3
    assert _texts(root, "category") == ["1", "16", "64"]
    assert {"29.6", "71.1", "70.2", "472", "380", "390"} == set(_texts(root, "value"))
    assert _texts(root, "reference") == ["target ≥ 300 turns/s at 16 clients"]


def test_a_chart_without_results_says_not_measured() -> None:
    for svg in (charts.turn_latency({}), charts.throughput({}), charts.cpu_by_layer({}, None)):
        root = _parse(svg)

        assert _texts(root, "not-measured") == ["not measured"]
        assert _count(root, "circle", "point") + _count(root, "rect", "bar") == 0


def test_cpu_by_layer_has_a_bar_per_layer_with_its_time_and_share() -> None:
    root = _parse(charts.cpu_by_layer({"turn": _turn()}, PROFILE))

    assert _count(root, "rect", "bar") == len(charts.LAYERS) + 1
    assert _texts(root, "value") == [
        "1.5 ms · 15%",  # HTTP: FastAPI
        "1 ms · 10%",  # service
        "1 ms · 10%",  # store: graphchat.store and SQLAlchemy
        "2 ms · 20%",  # LangGraph
        "0 ms · 0%",  # model call: not in this profile
        "4.5 ms · 45%",  # built-ins: not attributed to a layer
    ]
    assert "300 turns" in _texts(root, "x-label")[0]
    assert "unprofiled: 12.75 ms server CPU per turn" in _texts(root, "note")[0]


def test_a_recorded_profile_is_preferred_to_the_text_report_and_names_its_machine() -> None:
    recorded = {"machine": MACHINE, "requests": 50, "own_ms_per_request": {"httpx": 3.0}}

    root = _parse(charts.cpu_by_layer({"profile-turn": recorded}, PROFILE))

    assert "2026-01-02 03:04 UTC" in _texts(root, "source")[0]
    assert "3 ms · 100%" in _texts(root, "value")


@pytest.mark.parametrize(
    ("package", "layer"),
    [
        ("graphchat.store", "store (SQLAlchemy, driver)"),
        ("sqlalchemy", "store (SQLAlchemy, driver)"),
        ("graphchat.api", "HTTP, FastAPI, middleware"),
        ("graphchat.app.py", "HTTP, FastAPI, middleware"),
        ("graphchat.agent", "LangGraph and the agent"),
        ("httpcore", "model call (llm/, httpx)"),
        ("graphchat.storefront", charts.UNATTRIBUTED),
        ("~", charts.UNATTRIBUTED),
    ],
)
def test_packages_are_grouped_by_the_layer_they_serve(package: str, layer: str) -> None:
    assert charts.layer_of(package) == layer


def test_the_profile_report_is_read_up_to_the_end_of_its_package_section() -> None:
    requests, packages = charts.parse_profile(PROFILE)

    assert requests == 300
    assert packages["~"] == 4.5
    assert len(packages) == 6


def test_axis_ticks_are_round_and_cover_the_top_value() -> None:
    assert ticks(47) == [0, 10, 20, 30, 40, 50]
    assert ticks(0.7) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
    assert number(1234.5) == "1,234"
    assert number(12.5) == "12.5"
