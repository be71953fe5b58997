"""The processes a benchmark drives: graphchat (`graphchat serve`) and the instant backend."""

from __future__ import annotations

import argparse
import contextlib
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench import databases  # noqa: E402

# free_port and wait_until_serving are re-exported for bench/floor.py's own server processes.
from support.process import ServerProcess  # noqa: E402
from support.process import free_port as free_port  # noqa: E402
from support.process import wait_until_serving as wait_until_serving  # noqa: E402

LOG_DIR = Path(tempfile.gettempdir()) / "graphchat-bench"
BACKEND_MODEL = "llama3.2:latest"


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextmanager
def backend(
    tokens: int = 0, token_delay: float = 0.0, first_token_delay: float = 0.0
) -> Iterator[str]:
    """The Ollama-protocol test double in its own process; yields its base URL."""
    command = [sys.executable, "-m", "bench.backend", "--tokens", str(tokens)]
    command += ["--token-delay", str(token_delay), "--first-token-delay", str(first_token_delay)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("the benchmark backend did not start")
        yield f"http://127.0.0.1:{line[1]}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def backend_pid(url: str) -> int:
    """The pid of the backend (started by `backend`, in this process) that serves `url`."""
    port = int(url.rsplit(":", 1)[1])
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.NoSuchProcess):
            listening = {c.laddr.port for c in child.net_connections("tcp") if c.laddr}
            if "bench.backend" in " ".join(child.cmdline()) and port in listening:
                return int(child.pid)
    raise LookupError(f"no benchmark backend of this process serves {url}")


def server_env(database_url: str, ollama_url: str | None, **extra: str) -> dict[str, str]:
    """graphchat's settings for a benchmark: no rate limit, warnings only, a fixed model."""
    env = {
        "GRAPHCHAT_DATABASE_URL": database_url,
        "GRAPHCHAT_LOG_LEVEL": "warning",
        "GRAPHCHAT_RATE_LIMIT": "",
    }
    if ollama_url is not None:
        env |= {"GRAPHCHAT_OLLAMA_URL": ollama_url, "GRAPHCHAT_DEFAULT_MODEL": BACKEND_MODEL}
    return env | extra


@contextmanager
def graphchat(env: dict[str, str], name: str = "server") -> Iterator[ServerProcess]:
    """`python -m graphchat serve` with `env`; stopped (SIGTERM) on exit."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{name}.log"
    log.write_text("")
    server = ServerProcess(env, log)
    try:
        yield server.start()
    finally:
        server.stop()


def rss_bytes(server: ServerProcess) -> int:
    """Resident memory of the server process."""
    assert server.process is not None
    return int(psutil.Process(server.process.pid).memory_info().rss)


class Started(Protocol):
    """A started server: graphchat's `ServerProcess`, or bench/floor.py's floor app."""

    @property
    def process(self) -> subprocess.Popen[Any] | None: ...


def cpu_seconds(server: Started) -> float:
    """User + system CPU time the server has used so far: its process and the workers it
    started (`GRAPHCHAT_WORKERS`), running or ended."""
    return sum(cpu_split(server))


def cpu_split(server: Started) -> tuple[float, float]:
    """`cpu_seconds` as (user, system): the kernel's share, in system calls and interrupts."""
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    times = process.cpu_times()
    user, system = times.user + times.children_user, times.system + times.children_system
    for worker in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            worker_times = worker.cpu_times()
            user, system = user + worker_times.user, system + worker_times.system
    return float(user), float(system)


def wait_settled(server: ServerProcess, *, idle: float = 0.5, timeout: float = 30.0) -> None:
    """Wait until the server has used under 2 % of a core for `idle` seconds: a server that has
    just answered /health still builds its agent graph in the background (agent/deferred.py),
    which a measurement of steady-state requests should not include."""
    deadline = time.monotonic() + timeout
    used = cpu_seconds(server)
    while time.monotonic() < deadline:
        time.sleep(idle)
        now = cpu_seconds(server)
        if now - used < 0.02 * idle:
            return
        used = now


# `in_service`: turns on a thread of their own before the statistics are gathered.
IN_SERVICE_TURNS = 300


def in_service(
    server: ServerProcess, database_url: str, headers: dict[str, str] | None = None
) -> None:
    """Put a scratch PostgreSQL database in the state a served one is in after its first minute:
    some turns, then the statistics autovacuum gathers (`ANALYZE`).

    A brand-new database has statistics for empty tables, and each pooled connection keeps the
    generic plan PostgreSQL made for them: begin's guards then read every run of the thread and
    every message of the table, more with each turn, until autovacuum's first visit (up to a
    minute) replans them. A benchmark spends all its turns inside that minute; a served database
    leaves it once (bench/analysis.md, round 40). SQLite keeps no statistics here: nothing to do.
    """
    if not database_url.startswith("postgresql"):
        return
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        thread = {"thread_id": f"in-service-{uuid.uuid4().hex[:8]}"}
        for _ in range(IN_SERVICE_TURNS):
            http.post("/chat", json=thread | {"message": "Hello there"}).raise_for_status()
    databases.analyze(database_url)


def migrate(env: dict[str, str], name: str) -> None:
    """Start and stop graphchat once: its start-up applies the migrations to an empty database."""
    with graphchat(env, name):
        pass


def for_each_database(
    args: argparse.Namespace, measure: Callable[[str, str], dict[str, Any]]
) -> dict[str, Any]:
    """`measure(kind, backend_url)` per requested database, with the instant backend running."""
    results: dict[str, Any] = {"parameters": vars(args)}
    with backend() as backend_url:
        for kind in databases.available(args.databases):
            results[kind] = measure(kind, backend_url)
            print(f"  {kind}: {results[kind]}", flush=True)
    return results
