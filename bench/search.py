"""9. Full-text search at scale: `GET /search` p99 on `--messages` messages (target < 50 ms).

Messages are 12 words drawn from a Zipf-distributed vocabulary, so queries range from rare words
(a few hundred hits) to the most common one (a large share of all messages), plus two-word and
prefix queries. Each query is requested `--requests` times, one at a time, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import psutil

from bench import databases, procs
from bench.load import check, client
from bench.seed import seed
from bench.stats import summary_ms

_VOCABULARY = 5_000
_WORDS_PER_MESSAGE = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per query")
    parser.add_argument("--limit", type=int, default=20, help="page size")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the seeded databases (a SQLite file in the temp dir, a PostgreSQL database "
        "named after the size) and reuse them next time; new migrations upgrade them",
    )


def _word(rank: int) -> str:
    """A pronounceable, distinct word per vocabulary rank (rank 0 is the most frequent)."""
    letters, value = [], rank + _VOCABULARY
    while value:
        value, digit = divmod(value, 21)
        letters.append("bcdfghjklmnpqrstvwxyz"[digit] + "aeiou"[digit % 5])
    return "".join(letters)


class _Writer:
    """Deterministic Zipf text: the same database every run."""

    def __init__(self) -> None:
        self._random = random.Random(20261201)
        self._words = [_word(rank) for rank in range(_VOCABULARY)]
        self._cumulative = list(itertools.accumulate(1 / (r + 1) for r in range(_VOCABULARY)))

    def __call__(self, _thread_id: str, _seq: int) -> str:
        chosen = self._random.choices(
            self._words, cum_weights=self._cumulative, k=_WORDS_PER_MESSAGE
        )
        return " ".join(chosen)


def _queries() -> dict[str, str]:
    return {
        "rare word (rank 4000)": _word(4000),
        "medium word (rank 100)": _word(100),
        "common word (rank 2)": _word(2),
        "two words (ranks 50, 200)": f"{_word(50)} {_word(200)}",
        "prefix (rank 300, 4 letters)": _word(300)[:4],
        "no hit": "zzzzqqq",
    }


def _working(server: procs.ServerProcess, database: str) -> list[int]:
    """The processes doing a search: the server and its PostgreSQL backends, if any."""
    assert server.process is not None
    backends = [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if any(database in part for part in process.info["cmdline"] or ())
        and process.info["cmdline"][0].startswith("postgres:")
    ]
    return [server.process.pid, *backends]


def _scheduled(pids: list[int]) -> tuple[int, int]:
    """Nanoseconds on a core and waiting for one, over every thread of `pids` (Linux
    schedstat: exact, where CPU times tick by 10 ms)."""
    running = waiting = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    ran, waited, _ = Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()
                    running, waiting = running + int(ran), waiting + int(waited)
    return running, waiting


async def _measure(
    server: procs.ServerProcess, database: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Wall time per request, and the time the server and its database backends spent on a core
    for it and waiting for one: a wall-time tail made of waiting is the load, not work."""
    results = {}
    async with client(server.url, 2) as http:
        for name, text in _queries().items():
            path = f"/search?q={quote(text)}&limit={args.limit}"
            samples: list[float] = []
            cores: list[tuple[float, float]] = []
            working: list[int] = []
            for index in range(args.requests + 10):
                if index == 10:  # the warm-up opened the pool's connections
                    working = _working(server, database)
                before, began = _scheduled(working), time.perf_counter()
                response: httpx.Response = await http.get(path)
                check(response)
                if index >= 10:
                    samples.append(time.perf_counter() - began)
                    after = _scheduled(working)
                    cores.append(((after[0] - before[0]) / 1e9, (after[1] - before[1]) / 1e9))
            results[name] = summary_ms(samples) | _core_summary(cores)
            print(f"    {name}: p99 {results[name]['p99_ms']} ms", flush=True)
    return results


def _core_summary(cores: list[tuple[float, float]]) -> dict[str, float]:
    on_core = summary_ms([running for running, _ in cores])
    waiting = summary_ms([waited for _, waited in cores])
    return {
        "cpu_p50_ms": on_core["p50_ms"],
        "cpu_p99_ms": on_core["p99_ms"],
        "core_wait_p50_ms": waiting["p50_ms"],
        "core_wait_p99_ms": waiting["p99_ms"],
    }


def _kept_name(args: argparse.Namespace) -> str:
    return f"graphchat_bench_search_{args.threads}_{args.messages}"


async def _postgres_kept(admin: str, name: str) -> None:
    connection = await asyncpg.connect(admin.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@contextmanager
def _database(kind: str, args: argparse.Namespace) -> Iterator[str]:
    """A scratch database, or with `--reuse` the kept one (created empty the first time)."""
    if not args.reuse:
        with databases.scratch(kind) as url:
            yield url
    elif kind == "sqlite":
        yield f"sqlite:///{Path(tempfile.gettempdir()) / _kept_name(args)}.db"
    else:
        admin = databases.postgres_admin_url()
        asyncio.run(_postgres_kept(admin, _kept_name(args)))
        yield f"{admin.rpartition('/')[0]}/{_kept_name(args)}"


def _seeded(database_url: str) -> bool:
    """Whether a kept database already holds the benchmark's messages."""
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.split(":///", 1)[1])) as connection:
            return connection.execute("SELECT 1 FROM messages LIMIT 1").fetchone() is not None
    url = database_url.replace("postgresql+asyncpg://", "postgresql://")

    async def probe() -> bool:
        connection = await asyncpg.connect(url)
        try:
            return bool(await connection.fetchval("SELECT EXISTS (SELECT 1 FROM messages)"))
        finally:
            await connection.close()

    return asyncio.run(probe())


def _one_database(kind: str, backend_url: str, args: argparse.Namespace) -> dict[str, Any]:
    each, extra = divmod(args.messages, args.threads)
    layout = [(f"t{i:06d}", each + (1 if i < extra else 0)) for i in range(args.threads)]
    with _database(kind, args) as database_url:
        env = procs.server_env(database_url, backend_url)
        procs.migrate(env, f"search-{kind}")
        seconds = None
        if not _seeded(database_url):
            began = time.perf_counter()
            seed(database_url, layout, text=_Writer())
            seconds = round(time.perf_counter() - began, 1)
            print(f"  {kind}: seeded (and indexed) in {seconds:.0f} s", flush=True)
        with procs.graphchat(env, f"search-{kind}") as server:
            database = database_url.rpartition("/")[2]
            queries = asyncio.run(_measure(server, database, args))
    return {"seed_seconds": seconds, "queries": queries}


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(args, lambda kind, url: _one_database(kind, url, args))
