"""The load generator: closed-loop async workers over one httpx client, and stream timers.

Runs in the benchmark process, apart from the server and backend processes it measures.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Request = Callable[[int], Awaitable[None]]


@dataclass
class Run:
    """Latencies (seconds) measured after the warm-up, failures, and the measured wall time."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    completed: int = 0  # warm-up included
    elapsed: float = 0.0
    first_error: str | None = None

    def add(self, other: Run) -> None:
        """Count `other`, a later round of the same measure, into this run."""
        self.latencies += other.latencies
        self.errors += other.errors
        self.completed += other.completed
        self.elapsed += other.elapsed
        self.first_error = self.first_error or other.first_error


def client(
    base_url: str, connections: int = 100, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, timeout=120.0, limits=limits, headers=headers)


async def closed_loop(request: Request, concurrency: int, duration: float, warmup: float) -> Run:
    """`concurrency` workers each send `request(worker)` back to back for warm-up + duration."""
    run = Run()
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration

    async def worker(index: int) -> None:
        while (began := time.perf_counter()) < stop_at:
            try:
                await request(index)
            except (httpx.HTTPError, RuntimeError) as exc:
                run.errors += 1
                run.first_error = run.first_error or repr(exc)
                continue
            run.completed += 1
            if began >= measure_from:
                run.latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    run.elapsed = time.perf_counter() - measure_from
    return run


def check(response: httpx.Response) -> None:
    if response.status_code != 200:
        try:
            body = response.text[:200]
        except httpx.ResponseNotRead:  # a streamed response: its body is not read here
            body = "(stream)"
        raise RuntimeError(f"HTTP {response.status_code}: {body}")


def chat_body(thread_id: str | None, message: str = "Hello there, how are you?") -> dict[str, Any]:
    """`/chat`'s body; with no thread id the server starts a thread for the turn."""
    return {"message": message} | ({"thread_id": thread_id} if thread_id is not None else {})


def backend_body(message: str = "Hello there, how are you?") -> dict[str, Any]:
    """What graphchat sends to Ollama for a one-message thread (streaming `/api/chat`)."""
    return {
        "model": "llama3.2:latest",
        "stream": True,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": message},
        ],
    }


@dataclass
class StreamTiming:
    """Seconds from sending the request to the first token, and between later tokens."""

    first: float
    gaps: list[float]
    tokens: int


async def backend_stream(http: httpx.AsyncClient, body: dict[str, Any]) -> StreamTiming:
    """Time an Ollama `/api/chat` stream: one NDJSON line per token, `done` last."""
    stamps: list[float] = []
    began = time.perf_counter()
    async with http.stream("POST", "/api/chat", json=body) as response:
        check(response)
        async for line in response.aiter_lines():
            if line and not json.loads(line).get("done"):
                stamps.append(time.perf_counter())
    return _timing(began, stamps)


async def graphchat_stream(
    http: httpx.AsyncClient,
    body: dict[str, Any],
    at_first: Callable[[], None] | None = None,
) -> StreamTiming:
    """Time a graphchat `/stream`: each `messages` event carries token deltas. `at_first` is
    called once the first token is in, after its time was taken."""
    stamps: list[float] = []
    began = time.perf_counter()
    event = None
    async with http.stream("POST", "/stream", json=body) as response:
        check(response)
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "messages" and _has_text(line[5:]):
                stamps.append(time.perf_counter())
                if at_first is not None and len(stamps) == 1:
                    at_first()
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(f"stream error: {line[5:200]}")
    return _timing(began, stamps)


def _has_text(data: str) -> bool:
    chunks = json.loads(data)
    return any(isinstance(chunk, dict) and chunk.get("content") for chunk in chunks)


def _timing(began: float, stamps: list[float]) -> StreamTiming:
    if not stamps:
        raise RuntimeError("the stream carried no token")
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    return StreamTiming(first=stamps[0] - began, gaps=gaps, tokens=len(stamps))


def stream_body(thread_id: str, message: str = "Hello there, how are you?") -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": message}]},
        "config": {"configurable": {"thread_id": thread_id}},
        "stream_mode": ["messages"],
    }
