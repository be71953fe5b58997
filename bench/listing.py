"""4. Listing at scale: `GET /threads` and `GET /threads/{id}/messages` pages on a big database,
the big thread's LangGraph state and history (what agent-chat-ui reads after every run), and
agent-chat-ui's sidebar (`POST /threads/search` for 100 threads, each labelled by its first
message: on load and after every message sent).

One big thread holds `--big` messages; the other threads share the rest of `--messages`. First
pages, deep offset pages and deep cursor pages are each requested `--requests` times, one at a time.
The LangGraph pages carry the thread's last `values_max` (200) messages per state, 10 states for
the history: the largest answers of the API.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from bench import databases, procs
from bench.load import check, client
from bench.seed import seed
from bench.stats import summary_ms

BIG = "big"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=100_000, help="messages in the big thread")
    parser.add_argument("--requests", type=int, default=200, help="per page kind")
    parser.add_argument("--limit", type=int, default=50, help="page size")


def _layout(args: argparse.Namespace) -> list[tuple[str, int]]:
    others = args.threads - 1
    each, extra = divmod(args.messages - args.big, others) if others else (0, 0)
    threads = [(f"t{index:06d}", each + (1 if index < extra else 0)) for index in range(others)]
    return [(BIG, args.big), *threads]


# agent-chat-ui's sidebar query (graphchat reads its graph keys as matching every thread).
SIDEBAR = {"metadata": {"graph_id": "agent"}, "limit": 100, "offset": 0}


async def _pages(http: httpx.AsyncClient, args: argparse.Namespace) -> dict[str, str]:
    """The URL of each page kind (a POST's body is `SIDEBAR`); deep cursors are taken from the
    server's own `next_cursor`."""
    limit, middle_thread, middle_seq = args.limit, args.threads // 2, args.big * 9 // 10
    deep = await http.get(f"/threads?limit={limit}&offset={middle_thread}")
    check(deep)
    cursor = deep.json()["next_cursor"]
    messages = f"/threads/{BIG}/messages?limit={limit}"
    return {
        "threads: first page": f"/threads?limit={limit}",
        f"threads: offset {middle_thread}": f"/threads?limit={limit}&offset={middle_thread}",
        f"threads: cursor at {middle_thread}": f"/threads?limit={limit}&cursor={cursor}",
        "messages: first page": messages,
        "messages: newest page": f"{messages}&order=desc",
        f"messages: offset {middle_seq}": f"{messages}&offset={middle_seq}",
        f"messages: cursor after {middle_seq}": f"{messages}&after={middle_seq}",
        "messages: small thread": f"/threads/t{middle_thread:06d}/messages?limit={limit}",
        "LangGraph: thread state": f"/threads/{BIG}/state",
        "LangGraph: history of 10 states": f"/threads/{BIG}/history?limit=10",
        "LangGraph: search of 100 threads (POST)": "/threads/search",
    }


async def _measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    results = {}
    async with client(url, 2) as http:
        for name, path in (await _pages(http, args)).items():
            samples = []
            for index in range(args.requests + 10):
                began = time.perf_counter()
                posted = name.endswith("(POST)")
                check(await (http.post(path, json=SIDEBAR) if posted else http.get(path)))
                if index >= 10:
                    samples.append(time.perf_counter() - began)
            results[name] = summary_ms(samples)
    return results


def _one_database(kind: str, backend_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with databases.scratch(kind) as database_url:
        env = procs.server_env(database_url, backend_url)
        procs.migrate(env, f"listing-{kind}")
        began = time.perf_counter()
        seed(database_url, _layout(args))
        seconds = time.perf_counter() - began
        print(f"  {kind}: seeded in {seconds:.0f} s")
        with procs.graphchat(env, f"listing-{kind}") as server:
            procs.wait_settled(server)
            pages = asyncio.run(_measure(server.url, args))
    return {"seed_seconds": round(seconds, 1), "pages": pages}


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(args, lambda kind, url: _one_database(kind, url, args))
