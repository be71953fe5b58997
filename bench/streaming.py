"""2. Streaming: TTFT and per-token overhead of `POST /stream`, and concurrent open streams.

TTFT and token gaps alternate one direct backend stream with one graphchat stream, so load drift
hits both alike: first every graphchat stream on one thread (the issue's measure, c=1 on a
thread it has answered before), then each on a new thread (reported beside it; that thread's
title is written in the background while the next stream is timed), then on one thread again
with graphchat on CPUs of its own, apart from the client's, the backend's and the database's
(bench/placement.py: what is left once the machine's CPU contention is taken out), and once more
shared, reading how long graphchat ran and waited for a CPU up to each first token
(bench/schedstat.py). Held
streams wait on a backend whose first token never comes within the test; the server's RSS and
CPU are read with psutil.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench import databases, placement, procs, schedstat
from bench.load import (
    StreamTiming,
    backend_body,
    backend_stream,
    check,
    client,
    graphchat_stream,
    stream_body,
)
from bench.stats import summary_ms
from support.process import ServerProcess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--streams", type=int, default=300, help="timed streams per workload (each side)"
    )
    parser.add_argument("--tokens", type=int, default=20, help="tokens per timed reply")
    parser.add_argument("--token-delay", type=float, default=0.005, help="seconds between tokens")
    parser.add_argument("--open", type=int, default=1000, help="concurrent streams to hold")
    parser.add_argument("--hold-databases", nargs="+", default=["sqlite", "postgres"])


WARM_UP = 5  # streams each way before the timed ones

# One graphchat stream on the given thread (its client and the thread's id).
GraphchatStream = Callable[[httpx.AsyncClient, str], Awaitable[StreamTiming]]


async def _plain(http: httpx.AsyncClient, thread_id: str) -> StreamTiming:
    return await graphchat_stream(http, stream_body(thread_id))


async def _alternating(
    backend_url: str,
    server_url: str,
    count: int,
    *,
    new_threads: bool = False,
    through_graphchat: GraphchatStream | None = None,
) -> tuple[list[StreamTiming], list[StreamTiming]]:
    """`count` streams from the backend alone and as many through graphchat, one after the
    other, after `WARM_UP` of each that warm both paths (and the thread) up."""
    direct: list[StreamTiming] = []
    through: list[StreamTiming] = []
    thread_id = f"ttft-{uuid.uuid4().hex}"
    async with client(backend_url, 4) as backend_http, client(server_url, 4) as server_http:
        for index in range(count + WARM_UP):
            if new_threads:
                thread_id = f"ttft-{uuid.uuid4().hex}"
            one = await backend_stream(backend_http, backend_body())
            two = await (through_graphchat or _plain)(server_http, thread_id)
            if index >= WARM_UP:
                direct.append(one)
                through.append(two)
    return direct, through


async def _timed(
    backend_url: str, server_url: str, count: int, *, new_threads: bool
) -> dict[str, Any]:
    return _compare(*await _alternating(backend_url, server_url, count, new_threads=new_threads))


async def _both_workloads(backend_url: str, server_url: str, count: int) -> dict[str, Any]:
    """The issue's measure (one thread), with the new-thread figures under `new_thread`."""
    measured = await _timed(backend_url, server_url, count, new_threads=False)
    new = await _timed(backend_url, server_url, count, new_threads=True)
    measured["new_thread"] = {
        key: new[key] for key in ("ttft_backend", "ttft_graphchat", "ttft_added_ms_p50")
    }
    return measured


async def _split(backend_url: str, server: ServerProcess, count: int) -> dict[str, Any]:
    """The issue's measure once more, with graphchat's own CPU time up to each first token and
    the time its threads waited for a CPU meanwhile (bench/schedstat.py); the kernel is read
    before each request and once its first token is in, outside the timed span."""
    assert server.process is not None
    if not schedstat.available():
        return {"skipped": "this kernel keeps no scheduler statistics (CONFIG_SCHED_INFO)"}
    # The server has served the other workloads: its threads are all there.
    threads = schedstat.threads_of(server.process.pid)
    spans: list[schedstat.Clocks] = []

    async def stream_split(http: httpx.AsyncClient, thread_id: str) -> StreamTiming:
        first: list[schedstat.Clocks] = []
        before = schedstat.clocks(threads)
        timing = await graphchat_stream(
            http, stream_body(thread_id), at_first=lambda: first.append(schedstat.clocks(threads))
        )
        spans.append(first[0] - before)
        return timing

    timed = await _alternating(backend_url, server.url, count, through_graphchat=stream_split)
    measured = spans[WARM_UP:]  # as the timings, the warm-up's left out
    compared = _compare(*timed)
    return {
        "ttft_added_ms_p50": compared["ttft_added_ms_p50"],
        "ran_to_first_token": summary_ms([span.ran for span in measured]),
        "waited_for_cpu_to_first_token": summary_ms([span.waited for span in measured]),
        "streams_waiting_over_0_1_ms": sum(span.waited > 0.0001 for span in measured),
        "streams": len(measured),
    }


def _apart(kind: str, backend_url: str, server: ServerProcess, count: int) -> dict[str, Any]:
    """The issue's measure again, graphchat on CPUs of its own and the client, the backend and
    the database on the others (bench/placement.py); `skipped` says why not."""
    assert server.process is not None

    def measure() -> dict[str, Any]:
        timed = asyncio.run(_timed(backend_url, server.url, count, new_threads=False))
        return {key: timed[key] for key in ("ttft_backend", "ttft_graphchat", "ttft_added_ms_p50")}

    return placement.measured_apart(kind, backend_url, [server.process.pid], measure)


def _compare(direct: list[StreamTiming], through: list[StreamTiming]) -> dict[str, Any]:
    first_direct = summary_ms([t.first for t in direct])
    first_through = summary_ms([t.first for t in through])
    gaps_direct = summary_ms([gap for t in direct for gap in t.gaps])
    gaps_through = summary_ms([gap for t in through for gap in t.gaps])
    return {
        "ttft_backend": first_direct,
        "ttft_graphchat": first_through,
        "ttft_added_ms_p50": round(first_through["p50_ms"] - first_direct["p50_ms"], 3),
        "ttft_added_ms_mean": round(first_through["mean_ms"] - first_direct["mean_ms"], 3),
        "gap_backend": gaps_direct,
        "gap_graphchat": gaps_through,
        "gap_added_ms_mean": round(gaps_through["mean_ms"] - gaps_direct["mean_ms"], 3),
        "gap_added_ms_p99": round(gaps_through["p99_ms"] - gaps_direct["p99_ms"], 3),
        "tokens_per_reply": {"backend": direct[0].tokens, "graphchat": through[0].tokens},
    }


async def _hold(http: httpx.AsyncClient, opened: asyncio.Event, gate: asyncio.Semaphore) -> None:
    """Open one stream, report it once `metadata` arrived, then keep reading until cancelled."""
    async with gate:
        stream = http.stream("POST", "/stream", json=stream_body(f"hold-{uuid.uuid4().hex}"))
        response = await stream.__aenter__()
    try:
        check(response)
        async for line in response.aiter_lines():
            if line.startswith("event: metadata") or line.startswith("event:metadata"):
                opened.set()
    finally:
        await stream.__aexit__(None, None, None)


_STREAMS_PER_CLIENT = 50  # httpx scans its pool per request: many small pools stay O(1)


async def _held(server: Any, count: int) -> dict[str, Any]:
    rss_idle = procs.rss_bytes(server)
    clients = [client(server.url, _STREAMS_PER_CLIENT + 4) for _ in range(count // 50 + 1)]
    gate = asyncio.Semaphore(8)  # clients arrive a few at a time, not all at once
    events = [asyncio.Event() for _ in range(count)]

    def hold(index: int) -> asyncio.Task[None]:
        http = clients[index // _STREAMS_PER_CLIENT]
        return asyncio.create_task(_hold(http, events[index], gate))

    warm = max(1, count // 100)
    tasks = [hold(index) for index in range(warm)]
    await _wait_open(events[:warm], 60)
    rss_warm, cpu_open, began = (
        procs.rss_bytes(server),
        procs.cpu_seconds(server),
        time.perf_counter(),
    )
    per_open = await _open_in_tenths(server, hold, tasks, events, warm)
    opened = sum(event.is_set() for event in events)
    open_seconds = time.perf_counter() - began
    cpu_open = (procs.cpu_seconds(server) - cpu_open) / open_seconds
    await asyncio.sleep(2)
    cpu_before, wall_before = procs.cpu_seconds(server), time.perf_counter()
    health = []
    for _ in range(20):
        start = time.perf_counter()
        check(await clients[-1].get("/health"))
        health.append(time.perf_counter() - start)
        await asyncio.sleep(0.25)
    cpu = (procs.cpu_seconds(server) - cpu_before) / (time.perf_counter() - wall_before)
    rss_held = procs.rss_bytes(server)
    errors = [task.exception() for task in tasks if task.done() and task.exception()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for http in clients:
        await http.aclose()
    held = max(1, opened - warm)
    return {
        "requested": count,
        "opened": opened,
        "failed": len(errors),
        "first_failure": repr(errors[0])[:300] if errors else None,
        "seconds_to_open": round(open_seconds, 1),
        "server_cpu_percent_while_opening": round(cpu_open * 100, 1),
        "cpu_ms_per_open_first_tenth": round(per_open[0] * 1000, 2),
        "cpu_ms_per_open_last_tenth": round(per_open[-1] * 1000, 2),
        "rss_idle_mb": round(rss_idle / 2**20, 1),
        "rss_after_warmup_mb": round(rss_warm / 2**20, 1),
        "rss_held_mb": round(rss_held / 2**20, 1),
        "kb_per_stream": round((rss_held - rss_warm) / held / 1024, 1),
        "cpu_percent_while_held": round(cpu * 100, 1),
        "health_while_held": summary_ms(health),
    }


async def _open_in_tenths(
    server: Any,
    hold: Callable[[int], asyncio.Task[None]],
    tasks: list[asyncio.Task[None]],
    events: list[asyncio.Event],
    warm: int,
) -> list[float]:
    """Open the streams after `warm` a tenth at a time; the server's CPU seconds per stream
    opened in each tenth (equal when opening one more costs the same with many open)."""
    per_open: list[float] = []
    bounds = [warm + (len(events) - warm) * tenth // 10 for tenth in range(11)]
    for start, end in itertools.pairwise(bounds):
        cpu_before = procs.cpu_seconds(server)
        tasks += [hold(index) for index in range(start, end)]
        await _wait_open(events[start:end], 300)
        per_open.append((procs.cpu_seconds(server) - cpu_before) / max(end - start, 1))
    return per_open


async def _wait_open(events: list[asyncio.Event], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(event.is_set() for event in events):
        await asyncio.sleep(0.2)
    return sum(event.is_set() for event in events)


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"parameters": vars(args)}
    kinds = databases.available(args.databases)
    with procs.backend(tokens=args.tokens, token_delay=args.token_delay) as backend_url:
        for kind in kinds:
            with (
                databases.scratch(kind) as url,
                procs.graphchat(procs.server_env(url, backend_url), f"stream-{kind}") as server,
            ):
                procs.in_service(server, url)
                results[kind] = asyncio.run(_both_workloads(backend_url, server.url, args.streams))
                results[kind]["apart"] = _apart(kind, backend_url, server, args.streams)
                results[kind]["split"] = asyncio.run(_split(backend_url, server, args.streams))
            print(f"  {kind} timed: {results[kind]}")
    slow_env = {"GRAPHCHAT_LLM_FIRST_TOKEN_TIMEOUT": "900"}
    with procs.backend(tokens=1, first_token_delay=600) as slow_url:
        for kind in databases.available([k for k in args.hold_databases if k in kinds]):
            with (
                databases.scratch(kind) as url,
                procs.graphchat(
                    procs.server_env(url, slow_url, **slow_env), f"hold-{kind}"
                ) as server,
            ):
                results.setdefault(kind, {})["held"] = asyncio.run(_held(server, args.open))
                server.kill()  # a graceful stop would wait on every held run
            print(f"  {kind} held: {results[kind]['held']}")
    return results
