"""Floor: what a turn costs on graphchat's stack alone, beside graphchat, in the same minutes.

Starts the instant backend, graphchat, and the floor app (bench/floor_app.py: FastAPI, SQLAlchemy,
LangGraph, httpx, uvicorn and nothing else) with and without its one-node graph, each on its own
scratch database. Then drives each at c=1 for `--duration` seconds, in turn, `--rounds` times (the
order alternates, so a slow phase of the shared machine is spread over all of them), one thread
of growing length per server. Prints the backend's p50, and per server the p50, the added p50 and
the server's CPU per turn.

The gap between graphchat and the floor is what graphchat itself spends per turn; the floor is
what a 3 ms target leaves for it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench import databases, procs
from bench.load import backend_body, backend_stream, chat_body, check, client, closed_loop
from bench.markdown import table
from bench.stats import summary_ms

# Each floor server does what the one before does and one layer more (bench/floor_app.py).
FLOORS = {
    "endpoint alone": "http",
    "+ model call": "model",
    "+ two transactions": "store",
    "+ LangGraph": "graph",
}
SERVERS = ("graphchat", *FLOORS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per server per round")
    parser.add_argument("--warmup", type=float, default=2.0)


def _async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url.replace("sqlite:///", "sqlite+aiosqlite:///", 1)
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


class _Floor:
    """The floor app as a process, with the same `url` and CPU accounting as graphchat's."""

    def __init__(self, database_url: str, backend_url: str, layers: str) -> None:
        self.port = procs.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = os.environ | {
            "FLOOR_DATABASE_URL": _async_url(database_url),
            "FLOOR_OLLAMA_URL": backend_url,
            "FLOOR_PORT": str(self.port),
            "FLOOR_LAYERS": layers,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor_app"], cwd=procs.ROOT, env=env
        )
        procs.wait_until_serving(f"{self.url}/openapi.json", self.process, 60.0)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@contextmanager
def _servers(kind: str, backend_url: str) -> Iterator[dict[str, Any]]:
    with ExitStack() as stack:
        urls = [stack.enter_context(databases.scratch(kind)) for _ in SERVERS]
        servers: dict[str, Any] = {
            "graphchat": stack.enter_context(
                procs.graphchat(procs.server_env(urls[0], backend_url), f"floor-{kind}")
            )
        }
        for (name, layers), url in zip(FLOORS.items(), urls[1:], strict=True):
            floor = _Floor(url, backend_url, layers)
            stack.callback(floor.stop)
            servers[name] = floor
        procs.wait_settled(servers["graphchat"])
        yield servers


async def _burst(server: Any | None, url: str, thread: str, seconds: float, warmup: float) -> Any:
    async with client(url, 1) as http:
        if server is None:

            async def call(_: int) -> None:
                await backend_stream(http, backend_body())

        else:

            async def call(_: int) -> None:
                check(await http.post("/chat", json=chat_body(thread)))

        return await closed_loop(call, 1, seconds, warmup)


def _one_database(kind: str, backend_url: str, args: argparse.Namespace) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {name: [] for name in ("backend", *SERVERS)}
    cpu = dict.fromkeys(SERVERS, 0.0)
    turns = dict.fromkeys(SERVERS, 0)
    with _servers(kind, backend_url) as servers:
        threads = {name: f"floor-{uuid.uuid4().hex[:8]}" for name in SERVERS}
        for name, server in servers.items():  # warm-up: the thread grows past its window
            asyncio.run(_burst(server, server.url, threads[name], args.warmup, 0.0))
        for index in range(args.rounds):
            order = ["backend", *SERVERS]
            for name in order if index % 2 == 0 else reversed(order):
                server = servers.get(name)
                before = procs.cpu_seconds(server) if server is not None else 0.0
                url = server.url if server is not None else backend_url
                run = asyncio.run(_burst(server, url, threads.get(name, ""), args.duration, 0.3))
                latencies[name] += run.latencies
                if server is not None:
                    cpu[name] += procs.cpu_seconds(server) - before
                    turns[name] += run.completed
    backend = summary_ms(latencies["backend"], 1.0)
    result: dict[str, Any] = {"backend_p50_ms": backend["p50_ms"]}
    for name in SERVERS:
        measured = summary_ms(latencies[name], 1.0)
        result[name] = {
            "turns": turns[name],
            "p50_ms": measured["p50_ms"],
            "added_ms_p50": round(measured["p50_ms"] - backend["p50_ms"], 3),
            "server_cpu_ms_per_turn": round(cpu[name] * 1000 / max(turns[name], 1), 3),
        }
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(args, lambda kind, url: _one_database(kind, url, args))


def section(result: dict[str, Any]) -> str:
    """The floor's part of docs/performance.md."""
    out = "## 8. The stack's floor\n\n`python -m bench floor`: graphchat beside a chat service"
    out += " written plainly on the same libraries (`bench/floor_app.py`: FastAPI, SQLAlchemy,"
    out += " LangGraph, httpx, uvicorn, and no auth, metrics, logs, events or titles), built up"
    out += " one layer at a time, each on its own database, all driven at c=1 in alternating"
    out += f" order ({result['parameters']['rounds']} rounds of"
    out += f" {result['parameters']['duration']:g} s each), so all see the same phase of the"
    out += " machine. Each floor row does what the row above it does, and one thing more.\n"
    for kind in (k for k in databases.KINDS if k in result):
        rows = [
            (name, m["p50_ms"], m["added_ms_p50"], m["server_cpu_ms_per_turn"], m["turns"])
            for name, m in ((name, result[kind][name]) for name in SERVERS)
        ]
        header = ("server", "p50 ms", "added ms (p50)", "server CPU ms/turn", "turns")
        out += f"\n**{kind}** (backend alone p50 {result[kind]['backend_p50_ms']} ms)\n\n"
        out += table(header, rows)
    return out
