"""`GRAPHCHAT_WORKERS=2`: two server processes on one port behave as one service.

Each test connection is pinned to the worker that accepted it (found from the worker's own
sockets), so a run started on one worker is rejoined and cancelled through the other, the
metrics either answers are the sum of both, and a worker killed with SIGKILL is replaced.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from support.fake_ollama import FakeOllama, Reply
from support.process import ServerProcess, running, server_env
from support.sse import Frame, frames

READY = "Application startup complete"


def _workers(server: ServerProcess) -> list[psutil.Process]:
    assert server.process is not None
    children = psutil.Process(server.process.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def _wait_ready(server: ServerProcess, started: int) -> list[psutil.Process]:
    """Wait until `started` workers have finished their start-up in all (replacements count)."""
    deadline = time.monotonic() + 120
    while server.log_path.read_text().count(READY) < started or len(_workers(server)) != 2:
        assert time.monotonic() < deadline, server.log_path.read_text()[-2000:]
        time.sleep(0.1)
    return _workers(server)


class Pinned:
    """A client with one kept-alive connection, and the worker process that accepted it."""

    def __init__(self, server: ServerProcess, workers: list[psutil.Process]) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.client = server.client(limits=limits)
        with self.client.stream("GET", "/health") as response:
            self.port = _local_port(response)
            response.read()  # read whole, the connection stays open for the next request
        self.worker = _holding(workers, server.port, self.port)

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        with self.client.stream(method, path, **kwargs) as response:
            assert _local_port(response) == self.port, "the pinned connection was replaced"
            yield response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.stream(method, path, **kwargs) as response:
            response.read()
        assert response.status_code == 200, response.text
        return response.json()


def _local_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def _holding(workers: list[psutil.Process], server_port: int, client_port: int) -> psutil.Process:
    """The worker whose socket is the server's end of the connection from `client_port`."""
    deadline = time.monotonic() + 5  # uvicorn closes a connection idle for 5 s
    while time.monotonic() < deadline:
        for worker in workers:
            for connection in worker.net_connections(kind="tcp"):
                remote = connection.raddr
                if connection.laddr.port == server_port and remote and remote.port == client_port:
                    return worker
        time.sleep(0.02)
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _one_per_worker(server: ServerProcess, workers: list[psutil.Process]) -> list[Pinned]:
    """Open connections until each worker holds one (the kernel hands them out)."""
    pinned: dict[int, Pinned] = {}
    for _ in range(200):
        connection = Pinned(server, workers)
        pinned.setdefault(connection.worker.pid, connection)
        if len(pinned) == len(workers):
            return list(pinned.values())
    pytest.fail(f"every connection went to the same worker: {list(pinned)}")


def _events(response: httpx.Response) -> Iterator[Frame]:
    return frames(response.iter_lines())


def _tokens_until(events: Iterator[Frame], count: int | None) -> tuple[list[str], str, str]:
    """Token texts read from `events` (up to `count`, or to the end), the run id, the last id."""
    tokens: list[str] = []
    run_id = last_id = ""
    for frame in events:
        last_id = frame.id or last_id
        if frame.event == "metadata":
            run_id = frame.json()["run_id"]
        elif frame.event == "messages":
            tokens.append(frame.json()[0]["content"])
        if frame.event == "end" or len(tokens) == count:
            break
    return tokens, run_id, last_id


def _metric(pinned: Pinned, series: str) -> float:
    """The value of `series` (a name and its labels) as the metrics of `pinned`'s worker report."""
    with pinned.stream("GET", "/metrics") as response:
        text = response.read().decode()
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _counted(pinned: Pinned, route: str) -> float:
    """The count of GET `route` answered 200, as the metrics of `pinned`'s worker report it."""
    labels = f'{{method="GET",route="{route}",status="200"}}'
    return _metric(pinned, f"graphchat_http_requests_total{labels}")


def _counted_once(pinned: Pinned, route: str, expected: float) -> float:
    """`_counted`, read again for up to 5 s while it is below `expected`: a worker counts a
    request once its response is sent, so the client may read the sum before that."""
    deadline = time.monotonic() + 5
    while (count := _counted(pinned, route)) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return count


@pytest.fixture
def two_workers(database_url: str, ollama: FakeOllama, tmp_path: Path) -> Iterator[ServerProcess]:
    env = server_env(
        database_url, ollama.url, GRAPHCHAT_WORKERS="2", GRAPHCHAT_RUN_HEARTBEAT_SECONDS="0.2"
    )
    with running(env, tmp_path / "server.log") as server:
        yield server


def test_a_run_started_on_one_worker_is_rejoined_on_the_other(
    two_workers: ServerProcess, ollama: FakeOllama
) -> None:
    first, second = _one_per_worker(two_workers, _wait_ready(two_workers, 2))
    reply = [f"w{index} " for index in range(30)]
    ollama.queue(Reply(tokens=reply, token_delay=0.05))
    body = {"input": {"messages": [{"role": "user", "content": "hi"}], "thread_id": "across"}}

    with first.stream("POST", "/stream", json=body) as started:
        seen_first, run_id, last_id = _tokens_until(_events(started), 5)
        rejoin = f"/threads/across/runs/{run_id}/stream"
        with second.stream("GET", rejoin, headers={"Last-Event-ID": last_id}) as rejoined:
            assert rejoined.status_code == 200
            seen_second, _, _ = _tokens_until(_events(rejoined), None)

    assert len(seen_first) == 5
    assert seen_first + seen_second == reply  # nothing lost, nothing repeated
    with two_workers.client() as client:  # whichever worker: the messages are stored
        messages = client.get("/threads/across/messages").json()["messages"]
    assert [m["content"] for m in messages] == ["hi", "".join(reply)]


def test_a_run_on_one_worker_is_cancelled_through_the_other(
    two_workers: ServerProcess, ollama: FakeOllama
) -> None:
    first, second = _one_per_worker(two_workers, _wait_ready(two_workers, 2))
    ollama.queue(Reply(tokens=[f"c{index} " for index in range(200)], token_delay=0.05))
    body = {"input": {"messages": [{"role": "user", "content": "go"}], "thread_id": "stopped"}}

    with first.stream("POST", "/stream", json=body) as started:
        seen, run_id, _ = _tokens_until(_events(started), 3)
        cancel = f"/threads/stopped/runs/{run_id}/cancel?wait=true"
        cancelled = second.json("POST", cancel)

    assert cancelled["graphchat_status"] == "cancelled"
    with two_workers.client() as client:
        messages = client.get("/threads/stopped/messages").json()["messages"]
    partial = messages[-1]
    assert partial["status"] == "cancelled"
    assert partial["content"].startswith("".join(seen))
    assert len(partial["content"]) < len("".join(f"c{index} " for index in range(200)))


def test_metrics_sum_the_workers_and_a_killed_worker_is_replaced(
    two_workers: ServerProcess, ollama: FakeOllama
) -> None:
    first, second = _one_per_worker(two_workers, _wait_ready(two_workers, 2))
    for pinned, times in ((first, 3), (second, 2)):
        for _ in range(times):
            pinned.json("GET", "/info")
    assert _counted_once(first, "/info", 5) == _counted_once(second, "/info", 5) == 5

    ollama.queue(Reply(tokens=[f"k{index} " for index in range(200)], token_delay=0.05))
    body = {"input": {"messages": [{"role": "user", "content": "hi"}], "thread_id": "killed"}}
    with first.stream("POST", "/stream", json=body) as held:
        events = _events(held)  # kept: an iterator let go of would close the stream
        _tokens_until(events, 1)
        assert _metric(second, "graphchat_active_streams") == 1  # open on the other worker
        os.kill(first.worker.pid, signal.SIGKILL)
        workers = _wait_ready(two_workers, 3)

    assert first.worker.pid not in {worker.pid for worker in workers}
    for _ in range(10):  # new connections, to whichever worker takes them
        assert Pinned(two_workers, workers).json("GET", "/health") == {"status": "ok"}
    survivor = Pinned(two_workers, workers)
    assert _counted(survivor, "/info") == 5  # the dead worker's counts are kept
    assert _metric(survivor, "graphchat_active_streams") == 0  # its stream is not


def test_several_workers_without_a_shared_rate_limit_store_are_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")}
    env |= {
        "GRAPHCHAT_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "GRAPHCHAT_RATE_LIMIT": "10/minute",
    }
    command = [sys.executable, "-m", "graphchat", "serve", "--workers", "2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert "GRAPHCHAT_REDIS_URL" in done.stderr
    assert not (tmp_path / "g.db").exists()  # refused before anything was opened
