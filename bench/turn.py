"""1. Turn overhead: `POST /chat` against the instant backend vs that backend called directly.

Each client owns one thread (no 409 thread_busy); the same client and the same concurrency call
the backend's streaming `/api/chat` directly for the baseline. A level alternates the two in
rounds (backend, graphchat, graphchat, backend, …), so that the machine's drift over the level's
seconds hits both alike, as `bench streaming` alternates its streams. The levels of every
concurrency use the Python client; the throughput levels (16+ clients, for each `--workers`
count) use wrk where it is installed, whose clients cost the shared cores next to nothing
(bench/wrk.py).
Concurrency 1 is measured a second time with graphchat on CPUs of its own, apart from the
client's, the backend's and the database's (bench/placement.py), as `bench streaming` does for
the first token: what is left once the machine's CPU contention is taken out. On PostgreSQL,
`commit_probe` then times a durable commit at the turn's pace (bench/commit_probe.py): a turn
commits twice and answers after the second, and the targets print what one costs on this
machine beside the latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid
from typing import Any

import httpx

from bench import commit_probe, databases, machine, placement, procs, wrk
from bench.load import Run, backend_body, backend_stream, chat_body, check, client, closed_loop
from bench.stats import summary_ms

Seconds = tuple[float, float]  # measured, then the warm-up before them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        # 3 on the 2-core benchmark machine: on SQLite a third worker serves while the others
        # wait for the file's write lock (docs/deployment.md has the figures).
        default=[1, 2, 3],
        help="server processes (GRAPHCHAT_WORKERS) of the throughput levels (16+ clients, wrk)",
    )


ROUNDS = 4  # of each side in a level


def sides_in_order(rounds: int) -> list[str]:
    """Backend, graphchat, graphchat, backend, …: `rounds` of each, so that a drift of the
    machine's speed that is steady over a level's seconds falls on both alike."""
    pairs = (("backend", "graphchat"), ("graphchat", "backend"))
    return [side for index in range(rounds) for side in pairs[index % 2]]


async def _backend_round(http: httpx.AsyncClient, concurrency: int, seconds: Seconds) -> Run:
    async def call(_: int) -> None:
        await backend_stream(http, backend_body())

    return await closed_loop(call, concurrency, *seconds)


class _Graphchat:
    """graphchat's side of a level: its turns, one thread per client, and its CPU."""

    def __init__(self, server: procs.ServerProcess, concurrency: int) -> None:
        self.server = server
        self.concurrency = concurrency
        self.threads = [
            f"turn-{concurrency}-{index}-{uuid.uuid4().hex[:8]}" for index in range(concurrency)
        ]
        self.run = Run()
        self.user = self.kernel = 0.0

    async def measure(self, http: httpx.AsyncClient, seconds: Seconds) -> None:
        async def call(worker: int) -> None:
            check(await http.post("/chat", json=chat_body(self.threads[worker])))

        user_before, kernel_before = procs.cpu_split(self.server)
        self.run.add(await closed_loop(call, self.concurrency, *seconds))
        user, kernel = procs.cpu_split(self.server)
        self.user += user - user_before
        self.kernel += kernel - kernel_before

    def summary(self) -> dict[str, Any]:
        turns = max(self.run.completed, 1)
        return summary_ms(self.run.latencies, self.run.elapsed) | {
            "server_cpu_ms_per_turn": round((self.user + self.kernel) * 1000 / turns, 3),
            # On this virtual machine a run where graphchat wakes its peers on the other CPU
            # spends ~0.5 ms more per turn here, in the kernel (bench/analysis.md, round 32).
            "server_kernel_cpu_ms_per_turn": round(self.kernel * 1000 / turns, 3),
            "errors": self.run.errors,
            "first_error": self.run.first_error,
        }


async def _graphchat_level(
    server: procs.ServerProcess, concurrency: int, args: argparse.Namespace
) -> dict[str, Any]:
    """graphchat alone, in one round."""
    side = _Graphchat(server, concurrency)
    async with client(server.url, concurrency) as http:
        await side.measure(http, (args.duration, args.warmup))
    return side.summary()


async def _alternated_level(
    server: procs.ServerProcess, backend_url: str, concurrency: int, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The backend alone and graphchat, in `ROUNDS` rounds each, alternating."""
    seconds = (args.duration / ROUNDS, args.warmup / ROUNDS)
    direct, through = Run(), _Graphchat(server, concurrency)
    loops = []
    async with (
        client(backend_url, concurrency) as to_backend,
        client(server.url, concurrency) as to_graphchat,
    ):
        for side in sides_in_order(ROUNDS):
            loops.append(machine.loop_once_ms())
            if side == "graphchat":
                await through.measure(to_graphchat, seconds)
            else:
                direct.add(await _backend_round(to_backend, concurrency, seconds))
    backend = summary_ms(direct.latencies, direct.elapsed) | {"errors": direct.errors}
    # The host's speed while the level ran (bench/machine.py): the loop's median before each round.
    return backend, through.summary() | {"python_loop_ms": round(statistics.median(loops), 2)}


def _compare(backend: dict[str, Any], graphchat: dict[str, Any]) -> dict[str, Any]:
    return {
        "added_ms_p50": round(graphchat["p50_ms"] - backend["p50_ms"], 3),
        "added_ms_mean": round(graphchat["mean_ms"] - backend["mean_ms"], 3),
        "ratio_p50": round(graphchat["p50_ms"] / backend["p50_ms"], 2),
        "throughput_ratio": round(backend["throughput_rps"] / graphchat["throughput_rps"], 2),
    }


def _levels(
    server: procs.ServerProcess,
    backend_url: str,
    kind: str,
    concurrencies: list[int],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    levels = []
    for concurrency in concurrencies:
        direct, through = asyncio.run(_alternated_level(server, backend_url, concurrency, args))
        level = {"concurrency": concurrency, "backend": direct, "graphchat": through}
        levels.append(level | _compare(direct, through))
        print(f"  {kind} c={concurrency}: {levels[-1]}", flush=True)
    return levels


def _apart_c1(
    server: procs.ServerProcess, backend_url: str, kind: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Concurrency 1 again, graphchat kept apart (not a target); `skipped` says why not."""
    assert server.process is not None

    def measure() -> dict[str, Any]:
        return _levels(server, backend_url, f"{kind}, CPUs apart,", [1], args)[0]

    return placement.measured_apart(kind, backend_url, [server.process.pid], measure)


NEW_THREAD_PER_REQUEST = "new per request"


def _wrk_levels(
    server: procs.ServerProcess, backend_url: str, concurrency: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Each client on its own thread, then a new thread per request (no thread id sent: each
    turn also creates a thread, and the model titles it in the background), as issue 14's
    throughput column is measured; the backend alone once, for both."""
    duration = args.duration + args.warmup  # wrk has no warm-up: each client's first turn is in
    direct = wrk.closed_loop(
        f"{backend_url}/api/chat", backend_body(), connections=concurrency, duration=duration
    )
    levels = []
    for threads, body, prefix in (
        ("per client", chat_body("THREAD"), f"wrk-{concurrency}-{uuid.uuid4().hex[:8]}"),
        (NEW_THREAD_PER_REQUEST, chat_body(None), ""),
    ):
        cpu_before = procs.cpu_seconds(server)
        through = wrk.closed_loop(
            f"{server.url}/chat", body, connections=concurrency, duration=duration, prefix=prefix
        )
        cpu = procs.cpu_seconds(server) - cpu_before
        through["server_cpu_ms_per_turn"] = round(cpu * 1000 / max(through["n"], 1), 3)
        level = {"concurrency": concurrency, "client": "wrk", "threads": threads}
        levels.append(level | {"backend": direct, "graphchat": through} | _compare(direct, through))
    return levels


def _throughput(
    kind: str, env: dict[str, str], backend_url: str, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """The levels of 16+ clients for each worker count, from wrk where it is installed."""
    loaded = [c for c in args.concurrency if c >= 16]
    by_workers: dict[str, list[dict[str, Any]]] = {}
    for workers in args.workers if loaded else []:
        name = f"turn-{kind}-{workers}-workers"
        with procs.graphchat(env | {"GRAPHCHAT_WORKERS": str(workers)}, name) as server:
            procs.wait_settled(server)  # /health answered: the other workers still start
            print(f"  {kind}, {workers} worker(s), {'wrk' if wrk.available() else 'httpx'}:")
            if wrk.available() is None:
                by_workers[str(workers)] = _levels(server, backend_url, kind, loaded, args)
                continue
            levels = [lv for c in loaded for lv in _wrk_levels(server, backend_url, c, args)]
            for level in levels:
                print(f"  {kind} c={level['concurrency']}: {level}", flush=True)
            by_workers[str(workers)] = levels
    return by_workers


def _one_database(kind: str, backend_url: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with databases.scratch(kind) as database_url:
        env = procs.server_env(database_url, backend_url)
        with procs.graphchat(env, f"turn-{kind}") as server:
            procs.in_service(server, database_url)
            result["levels"] = _levels(server, backend_url, kind, args.concurrency, args)
            result["apart_c1"] = _apart_c1(server, backend_url, kind, args)
            if kind == "postgres":  # what its two durable commits cost here (not a target)
                result["commit_probe"] = commit_probe.probe(database_url)
                print(f"  {kind} commit probe: {result['commit_probe']}", flush=True)
        # The same at concurrency 1 with per-request logging on (the default level).
        with procs.graphchat(env | {"GRAPHCHAT_LOG_LEVEL": "info"}, f"turn-{kind}-info") as server:
            result["log_level_info_c1"] = asyncio.run(_graphchat_level(server, 1, args))
        result["throughput"] = _throughput(kind, env, backend_url, args)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(args, lambda kind, url: _one_database(kind, url, args))
