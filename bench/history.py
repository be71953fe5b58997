"""3. History growth: one turn on a 10-message thread vs one on a 10,000-message thread.

Threads are seeded with direct INSERTs; turns alternate short/long so load drift hits both alike.
Each short turn uses a fresh 10-message thread; the long thread grows by 2 messages per turn.
The long thread has branches: every 10th user message also has a regenerated reply beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench import databases, procs
from bench.load import chat_body, check, client
from bench.seed import Branched, seed
from bench.stats import summary_ms


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--turns", type=int, default=200, help="timed turns per thread length")
    parser.add_argument("--short", type=int, default=10, help="messages in the short threads")
    parser.add_argument("--long", type=int, default=10_000, help="messages in the long thread")
    parser.add_argument(
        "--branch-every",
        type=int,
        default=10,
        help="every that many user messages has a regenerated reply off the branch (0: none)",
    )


async def _turns(url: str, turns: int, warmup: int) -> tuple[list[float], list[float]]:
    short: list[float] = []
    long: list[float] = []
    async with client(url, 2) as http:
        for index in range(turns + warmup):
            for thread_id, samples in ((f"short-{index}", short), ("long", long)):
                began = time.perf_counter()
                check(await http.post("/chat", json=chat_body(thread_id)))
                if index >= warmup:
                    samples.append(time.perf_counter() - began)
    return short, long


def _one_database(kind: str, backend_url: str, args: argparse.Namespace) -> dict[str, Any]:
    warmup = 10
    with databases.scratch(kind) as database_url:
        env = procs.server_env(database_url, backend_url)
        procs.migrate(env, f"history-{kind}")
        threads = [("long", args.long)]
        threads += [(f"short-{index}", args.short) for index in range(args.turns + warmup)]
        seed(database_url, threads, Branched(frozenset({"long"}), args.branch_every))
        with procs.graphchat(env, f"history-{kind}") as server:
            short, long = asyncio.run(_turns(server.url, args.turns, warmup))
    short_ms, long_ms = summary_ms(short), summary_ms(long)
    return {
        "short": short_ms,
        "long": long_ms,
        "ratio_p50": round(long_ms["p50_ms"] / short_ms["p50_ms"], 3),
        "ratio_mean": round(long_ms["mean_ms"] / short_ms["mean_ms"], 3),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(args, lambda kind, url: _one_database(kind, url, args))
