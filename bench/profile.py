"""Where a request's time goes: graphchat in-process under cProfile, driven from a thread.

`python -m bench.profile turn|kept-turn|stream|kept-stream|page [--requests N]
[--database sqlite|postgres] [--tokens N]` runs uvicorn on the main thread, sends N requests
from a worker thread after a warm-up, profiles the event loop's thread with cProfile (its CPU
clock) while they run, and writes the top functions to
`bench/results/profile-<scenario>[-postgres].txt`. `turn` and `stream` start a thread per
request (a title each); `kept-turn` turns on one thread, as `bench turn`'s c=1 level does, and
`kept-stream` streams on one thread, as `bench streaming`'s measure does. `history` reads a
thread of 200 messages as agent-chat-ui does after each run: `POST …/history` (`limit` 10) and
`GET …/state`, one each per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import uvicorn

from bench import databases, procs
from bench.load import chat_body, check, stream_body
from bench.results import RESULTS
from bench.seed import seed
from graphchat.app import create_app
from graphchat.logging import configure_logging
from graphchat.settings import Settings

WARM_UP_REQUESTS = 20
# `history`: the thread's turns before the warm-up (two messages each).
HISTORY_TURNS = 100
# `kept-turn` and `kept-stream`: every request on this one thread, as the c=1 measures do.
KEPT_THREAD = f"p-kept-{uuid.uuid4().hex[:8]}"


def _drive(
    server: uvicorn.Server, profiler: cProfile.Profile, scenario: str, requests: int
) -> None:
    """Send `requests` requests, profiled on the event loop's thread after a warm-up (so the
    start-up and each first use are not in the profile)."""
    while not server.started:
        threading.Event().wait(0.05)
    loop = server.servers[0].get_loop()
    port = server.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        for _ in range(HISTORY_TURNS if scenario == "history" else 0):
            check(http.post("/chat", json=chat_body(KEPT_THREAD)))
        for _ in range(WARM_UP_REQUESTS):
            _request(http, scenario)
        _on_loop(loop, profiler.enable)
        for _ in range(requests):
            _request(http, scenario)
        _on_loop(loop, profiler.disable)
    server.should_exit = True


def _on_loop(loop: asyncio.AbstractEventLoop, call: Callable[[], None]) -> None:
    """Run `call` on the event loop's thread (cProfile profiles the thread it is enabled on)."""
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    loop.call_soon_threadsafe(run)
    done.wait()


def _request(http: httpx.Client, scenario: str) -> None:
    if scenario == "turn":
        check(http.post("/chat", json=chat_body(f"p-{uuid.uuid4().hex}")))
    elif scenario == "kept-turn":
        check(http.post("/chat", json=chat_body(KEPT_THREAD)))
    elif scenario in ("stream", "kept-stream"):
        body = stream_body(KEPT_THREAD if scenario == "kept-stream" else f"p-{uuid.uuid4().hex}")
        with http.stream("POST", "/stream", json=body) as response:
            check(response)
            for _line in response.iter_lines():
                pass
    elif scenario == "history":
        check(http.post(f"/threads/{KEPT_THREAD}/history", json={"limit": 10}))
        check(http.get(f"/threads/{KEPT_THREAD}/state"))
    else:
        check(http.get("/threads/big/messages?limit=50&after=5000"))
        check(http.get("/threads?limit=50"))


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/src/graphchat/" in filename:
        return "graphchat." + filename.split("/src/graphchat/", 1)[1].split("/", 1)[0]
    return "stdlib" if filename.startswith("/") else filename


def _by_package(stats: pstats.Stats, requests: int) -> str:
    """Own time (tottime) summed per package, in ms per request: where the CPU goes."""
    totals: dict[str, float] = {}
    for (filename, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[_package(filename)] = totals.get(_package(filename), 0.0) + row[2]
    lines = [f"{ms * 1000 / requests:8.2f} ms/request  {name}" for name, ms in totals.items()]
    return "own time per package\n" + "\n".join(sorted(lines, reverse=True)[:30]) + "\n\n"


def _graphchat_functions(stats: pstats.Stats, requests: int) -> str:
    """graphchat's own functions by cumulative time per request (callees included)."""
    rows = [
        (row[3] * 1000 / requests, f"{filename.split('/src/')[-1]}:{line}({name})")
        for (filename, line, name), row in stats.stats.items()  # type: ignore[attr-defined]
        if "/src/graphchat/" in filename
    ]
    lines = [f"{ms:8.2f} ms/request  {where}" for ms, where in sorted(rows, reverse=True)[:45]]
    return "graphchat functions, cumulative\n" + "\n".join(lines) + "\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "scenario", choices=["turn", "kept-turn", "stream", "kept-stream", "history", "page"]
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", choices=databases.KINDS, default="sqlite")
    parser.add_argument(
        "--tokens", type=int, default=20, help="0: the backend echoes (as `bench turn` does)"
    )
    args = parser.parse_args()
    with databases.scratch(args.database) as url, procs.backend(tokens=args.tokens) as backend_url:
        settings = Settings(
            database_url=url,
            ollama_url=backend_url,
            default_model=procs.BACKEND_MODEL,
            log_level="warning",
            rate_limit="",
        )
        if args.scenario == "page":
            procs.migrate(procs.server_env(url, backend_url), "profile")
            seed(url, [("big", 10_000)] + [(f"t{i}", 10) for i in range(5_000)])
        # As `graphchat serve` does: unconfigured, structlog would print every info line.
        configure_logging(settings.observability)
        config = uvicorn.Config(create_app(settings), port=0, log_config=None, access_log=False)
        server = uvicorn.Server(config)
        # The loop thread's CPU clock: with the default wall clock, a greenlet's wait for the
        # database was charged to SQLAlchemy's `execute` as its own time (round 18).
        profiler = cProfile.Profile(time.thread_time)
        driving = (server, profiler, args.scenario, args.requests)
        driver = threading.Thread(target=_drive, args=driving)
        driver.start()
        server.run()
        driver.join()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(_by_package(stats, args.requests) + _graphchat_functions(stats, args.requests))
    stats.strip_dirs()
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    suffix = "" if args.database == "sqlite" else f"-{args.database}"
    path = RESULTS / f"profile-{args.scenario}{suffix}.txt"
    path.write_text(f"{args.requests} requests\n" + out.getvalue())
    print(path)


if __name__ == "__main__":
    main()
