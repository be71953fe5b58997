"""9. Start-up: launching `graphchat serve` to its first `200` on `/health`, and to a first turn.

An Ollama URL is configured (the instant backend), the database already migrated (a restart);
each start is a new process. CPU is the server process's user + system time when `/health` first
answers; "first turn" adds one `POST /chat` right after, which waits for the agent graph if its
background build is not done.
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


def _one_start(env: dict[str, str], log: Path) -> dict[str, float]:
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
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"health_s": healthy, "cpu_s": cpu, "first_turn_s": first_turn}


def _measure(kind: str, backend_url: str, starts: int) -> dict[str, Any]:
    procs.LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = procs.LOG_DIR / "startup.log"
    log.write_text("")
    with databases.scratch(kind) as url:
        env = procs.server_env(url, backend_url)
        procs.migrate(env, "startup-migrate")
        runs = [_one_start(env, log) for _ in range(starts)]
    seconds = {name: [run[name] for run in runs] for name in runs[0]}
    return {
        "to_health": summary_ms(seconds["health_s"]),
        "cpu_to_health": summary_ms(seconds["cpu_s"]),
        "to_first_turn": summary_ms(seconds["first_turn_s"]),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    return procs.for_each_database(args, lambda kind, url: _measure(kind, url, args.starts))
