"""The charts of `docs/performance.md`, drawn from `bench/results/` (`python -m bench charts`).

Three pictures: a turn's latency against the thread's length (history), throughput against the
number of clients (turn), and a turn's CPU by layer (the cProfile run of `bench/profile.py`). Each
names the result file, machine, date and load it was drawn from; a chart whose results are
missing says "not measured" rather than disappearing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.results import RESULTS
from bench.svg import Bar, Frame, Series, bar_chart, line_chart, number

Results = dict[str, dict[str, Any]]

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "img"
PROFILE = RESULTS / "profile-turn.txt"
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
COLORS = {"sqlite": "#1f6fb2", "postgres": "#d9730d"}
THROUGHPUT_TARGET = 300.0  # turns/s at 16 clients (issue 14)

# Packages of a profile by the layer of a turn they serve; the first matching prefix wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "HTTP, FastAPI, middleware",
        (
            "fastapi",
            "starlette",
            "uvicorn",
            "h11",
            "anyio",
            "sniffio",
            "pydantic",
            "sse_starlette",
            "structlog",
            "prometheus_client",
            "opentelemetry",
            "graphchat.api",
            "graphchat.app",
            "graphchat.observability",
            "graphchat.security",
        ),
    ),
    ("service (graphchat.service)", ("graphchat.service", "graphchat.wiring")),
    (
        "store (SQLAlchemy, driver)",
        ("graphchat.store", "sqlalchemy", "aiosqlite", "asyncpg", "greenlet"),
    ),
    ("LangGraph and the agent", ("langgraph", "langchain_core", "langsmith", "graphchat.agent")),
    ("model call (llm/, httpx)", ("graphchat.llm", "httpx", "httpcore")),
)
UNATTRIBUTED = "stdlib, built-ins, other"


def _source(name: str, result: dict[str, Any]) -> str:
    """The machine, date and load of one result file, as each chart's subtitle."""
    if "machine" not in result:
        return f"bench/results/{name}.json missing"
    machine = result["machine"]
    load = f"load {machine['load_at_start'][0]:.1f} → {machine['load_at_end'][0]:.1f}"
    where = f"{machine['cpu']}, {machine['cores']} cores"
    return f"bench/results/{name}.json · {where} · {machine['date']} · {load}"


def _kinds(result: dict[str, Any]) -> list[str]:
    return [kind for kind in NAMES if kind in result]


def _lengths(measured: dict[str, Any], params: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(messages, latency summary) per thread length: a `lengths` list if the bench records
    one, else its two threads, short and long."""
    if "lengths" in measured:
        return [(row["messages"], row) for row in measured["lengths"]]
    return [(params["short"], measured["short"]), (params["long"], measured["long"])]


def turn_latency(results: Results) -> str:
    """(a) A turn's latency at c=1 against the messages already in the thread."""
    result = results.get("history", {})
    series: list[Series] = []
    for kind in _kinds(result):
        rows = _lengths(result[kind], result.get("parameters", {}))
        for stat, dashed in (("p50", False), ("p99", True)):
            points = [(f"{messages:,}", row[f"{stat}_ms"]) for messages, row in rows]
            series.append(Series(f"{NAMES[kind]} {stat}", points, COLORS[kind], dashed))
    title = "Turn latency vs thread length (POST /chat, 1 client)"
    axes = ("messages in the thread before the turn", "latency per turn (ms)")
    frame = Frame(title, *axes, _source("history", result))
    return line_chart(frame, series, missing="run `python -m bench history`")


def throughput(results: Results) -> str:
    """(b) Turns per second against concurrent clients, and the backend alone at each."""
    result = results.get("turn", {})
    series: list[Series] = []
    for kind in _kinds(result):
        levels = result[kind]["levels"]
        for side, dashed in (("graphchat", False), ("backend", True)):
            points = [(str(lv["concurrency"]), lv[side]["throughput_rps"]) for lv in levels]
            series.append(Series(f"{side} ({NAMES[kind]} run)", points, COLORS[kind], dashed))
    title = "Throughput vs clients (POST /chat, each client its own thread)"
    axes = (
        "concurrent clients (closed loop)",
        "completed per second (turns/s; backend: requests/s)",
    )
    target = (f"target ≥ {number(THROUGHPUT_TARGET)} turns/s at 16 clients", THROUGHPUT_TARGET)
    frame = Frame(title, *axes, _source("turn", result))
    return line_chart(frame, series, reference=target, missing="run `python -m bench turn`")


def parse_profile(text: str) -> tuple[int, dict[str, float]]:
    """The request count and the "own time per package" section of `profile-turn.txt`."""
    lines = text.splitlines()
    requests = int(lines[0].split()[0]) if lines and lines[0].split()[0].isdigit() else 0
    packages: dict[str, float] = {}
    inside = False
    for line in lines:
        if line.strip() == "own time per package":
            inside = True
        elif inside and "ms/request" in line:
            ms, _, package = line.partition("ms/request")
            packages[package.strip()] = float(ms)
        elif inside:
            break
    return requests, packages


def layer_of(package: str) -> str:
    for layer, prefixes in LAYERS:
        if any(package == prefix or package.startswith(prefix + ".") for prefix in prefixes):
            return layer
    return UNATTRIBUTED


def by_layer(packages: dict[str, float]) -> dict[str, float]:
    """Own time per package summed per layer, in the order of LAYERS, the rest last."""
    totals = {layer: 0.0 for layer, _ in LAYERS} | {UNATTRIBUTED: 0.0}
    for package, ms in packages.items():
        totals[layer_of(package)] += ms
    return {layer: round(ms, 2) for layer, ms in totals.items()}


def _profile(results: Results, profile: str | None) -> tuple[str, int, dict[str, float]] | None:
    """(source, requests, ms per package): `profile-turn.json` if a bench writes one, else the
    text report of `python -m bench.profile turn` (which records no machine or date)."""
    if recorded := results.get("profile-turn"):
        return (
            _source("profile-turn", recorded),
            recorded["requests"],
            recorded["own_ms_per_request"],
        )
    if profile is None:
        return None
    requests, packages = parse_profile(profile)
    source = "bench/results/profile-turn.txt · machine and date not recorded with the profile"
    return (source, requests, packages) if packages else None


def _measured_cpu(results: Results) -> str:
    """What the profile leaves out, and the whole server's CPU per turn without the profiler."""
    scope = "event-loop thread only (SQLite's worker thread not counted)"
    levels = results.get("turn", {}).get("sqlite", {}).get("levels", [])
    level = next((lv for lv in levels if lv["concurrency"] == 1), None)
    if level is None or "server_cpu_ms_per_turn" not in level["graphchat"]:
        return f"{scope} · unprofiled server CPU per turn: not measured"
    cpu = number(level["graphchat"]["server_cpu_ms_per_turn"])
    return f"{scope} · unprofiled: {cpu} ms server CPU per turn (turn.json, 1 client)"


def cpu_by_layer(results: Results, profile: str | None) -> str:
    """(c) A turn's CPU split by layer: cProfile's own time per package, grouped."""
    measured = _profile(results, profile)
    source = measured[0] if measured else "bench/results/profile-turn.txt missing"
    requests = measured[1] if measured else 0
    frame = Frame(
        "CPU per turn by layer (POST /chat on SQLite, under cProfile)",
        f"own CPU time per turn, ms ({requests} turns; cProfile inflates it: read the shares)",
        "layer of the turn",
        source,
        _measured_cpu(results),
    )
    if measured is None:
        return bar_chart(
            frame, [], color=COLORS["sqlite"], missing="run `python -m bench.profile turn`"
        )
    layers = by_layer(measured[2])
    total = sum(layers.values()) or 1.0
    bars = [Bar(layer, ms, f"{number(ms)} ms · {ms / total:.0%}") for layer, ms in layers.items()]
    return bar_chart(frame, bars, color=COLORS["sqlite"])


CHARTS = (
    ("turn-latency-vs-thread-length.svg", "Turn latency vs thread length"),
    ("throughput-vs-clients.svg", "Throughput vs clients"),
    ("cpu-per-turn-by-layer.svg", "CPU per turn by layer"),
)


def render(results: Results, profile: str | None) -> dict[str, str]:
    """Every chart's SVG by file name, in the order of CHARTS."""
    drawn = (turn_latency(results), throughput(results), cpu_by_layer(results, profile))
    return {name: svg for (name, _), svg in zip(CHARTS, drawn, strict=True)}


def read_profile() -> str | None:
    return PROFILE.read_text() if PROFILE.exists() else None


def write(results: Results) -> list[Path]:
    IMAGES.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, svg in render(results, read_profile()).items():
        path = IMAGES / name
        path.write_text(svg)
        paths.append(path)
    return paths
