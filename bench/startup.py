"""9. Start-up: launching `graphchat serve` to its first `200` on `/health`, and to a first turn.

An Ollama URL is configured (the instant backend), the database already migrated (a restart);
each start is a new process. CPU is the server process's user + system time when `/health` first
answers; "first turn" adds one `POST /chat` right after, which waits for the agent graph if its
background build is not done. After the last start's turn the server is left idle for
`--idle-seconds`, and its CPU (share of a core) and RSS over that time are read: what a laptop
pays for a server nobody is using.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import databases, procs
from bench.load import chat_body
from bench.stats import summary_ms
from support.process import free_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--starts", type=int, default=7, help="starts measured per database")
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="the last start left idle this long"
    )


def _wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("graphchat exited during start-up")
            try:
                if http.get(f"{url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.005)
    raise TimeoutError("graphchat did not start")


def _one_start(env: dict[str, str], log: Path, idle_seconds: float = 0.0) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")}
    child_env |= env | {"GRAPHCHAT_PORT": str(port)}
    began = time.monotonic()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphchat", "serve"],
            env=child_env,
            stdout=output,
            stderr=output,
        )
    try:
        _wait_for_health(url, process)
        healthy = time.monotonic() - began
        times = psutil.Process(process.pid).cpu_times()
        cpu = times.user + times.system
        reply = httpx.post(f"{url}/chat", json=chat_body(f"startup-{port}"), timeout=60)
        reply.raise_for_status()
        first_turn = time.monotonic() - began
        idle = _idle(psutil.Process(process.pid), idle_seconds) if idle_seconds else {}
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"health_s": healthy, "cpu_s": cpu, "first_turn_s": first_turn} | idle


def _idle(server: psutil.Process, seconds: float) -> dict[str, float]:
    """The server's CPU (percent of a core) and RSS while nothing is asked of it."""
    time.sleep(1.0)  # the turn's own wind-down (title, search index) is not idleness
    before, began = server.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = server.cpu_times(), time.monotonic() - began
    busy = (after.user + after.system) - (before.user + before.system)
    rss_mb = server.memory_info().rss / 2**20
    return {"idle_cpu_percent": 100 * busy / elapsed, "idle_rss_mb": rss_mb}


def _measure(kind: str, backend_url: str, starts: int, idle_seconds: float) -> dict[str, Any]:
    procs.LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = procs.LOG_DIR / "startup.log"
    log.write_text("")
    with databases.scratch(kind) as url:
        env = procs.server_env(url, backend_url)
        procs.migrate(env, "startup-migrate")
        runs = [_one_start(env, log) for _ in range(starts - 1)]
        runs.append(_one_start(env, log, idle_seconds))
    seconds = {name: [run[name] for run in runs] for name in runs[0]}
    last = runs[-1]
    return {
        "to_health": summary_ms(seconds["health_s"]),
        "cpu_to_health": summary_ms(seconds["cpu_s"]),
        "to_first_turn": summary_ms(seconds["first_turn_s"]),
        "idle": {
            "seconds": idle_seconds,
            "cpu_percent": round(last.get("idle_cpu_percent", 0.0), 3),
            "rss_mb": round(last.get("idle_rss_mb", 0.0), 1),
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(
        args, lambda kind, url: _measure(kind, url, args.starts, args.idle_seconds)
    )
