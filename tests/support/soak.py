"""A soak: many concurrent clients mixing every kind of request, then an exactly-once audit.

Each client owns its threads (so a 409 is never expected) and loops over: `/chat`, `/stream`
read to the end, `/stream` dropped after a few events then rejoined, a stream cancelled, a page
of threads, a thread deleted. Every accepted turn is recorded; the audit counts, in the database,
each accepted turn's user message and reply (exactly one each) and the runs still `running`.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from support.db import query
from support.sse import Frame

ACTIONS = ("chat", "chat", "chat", "stream", "stream", "drop", "cancel", "list", "delete")


@dataclass
class SoakResult:
    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # run id -> its user message
    deleted_threads: set[str] = field(default_factory=set)
    run_threads: dict[str, str] = field(default_factory=dict)  # run id -> thread id
    actions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def figures(self) -> dict[str, Any]:
        return {
            "requests": sum(self.statuses.values()),
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "server_errors": self.server_errors,
            "unanswered": len(self.unanswered),
            "accepted_turns": len(self.accepted),
            "actions": dict(self.actions),
            "seconds": round(self.seconds, 1),
            "requests_per_second": round(sum(self.statuses.values()) / self.seconds, 1),
        }


class _Client:
    def __init__(self, http: httpx.AsyncClient, result: SoakResult, number: int) -> None:
        self.http, self.result, self.number = http, result, number
        self.thread = self._new_thread()

    def _new_thread(self) -> str:
        return f"soak-{self.number}-{uuid.uuid4().hex[:8]}"

    def _note(self, response: httpx.Response) -> httpx.Response:
        self.result.statuses[response.status_code] += 1
        return response

    def _accept(self, run_id: str, text: str) -> None:
        self.result.accepted[run_id] = text
        self.result.run_threads[run_id] = self.thread

    async def chat(self) -> None:
        text = f"chat {uuid.uuid4().hex}"
        response = self._note(
            await self.http.post("/chat", json={"message": text, "thread_id": self.thread})
        )
        if response.status_code == 200:
            self._accept(response.json()["run_id"], text)

    async def _stream(self, *, drop_after: int | None = None, cancel: bool = False) -> None:
        text = f"stream {uuid.uuid4().hex}"
        body = {"input": {"messages": [{"role": "user", "content": text}]}}
        body["input"]["thread_id"] = self.thread
        run_id = ""
        async with self.http.stream("POST", "/stream", json=body) as response:
            self._note(response)
            if response.status_code != 200:
                return
            seen = 0
            async for frame in _frames(response):
                if frame.event == "metadata":
                    run_id = frame.json()["run_id"]
                    self._accept(run_id, text)
                    if cancel:
                        break
                seen += 1
                if drop_after is not None and seen >= drop_after:
                    break
        if cancel:
            url = f"/threads/{self.thread}/runs/{run_id}/cancel"
            self._note(await self.http.post(url, params={"wait": "true"}))
        elif drop_after is not None:
            await self._rejoin(run_id)

    async def _rejoin(self, run_id: str) -> None:
        url = f"/threads/{self.thread}/runs/{run_id}/stream"
        async with self.http.stream("GET", url) as response:
            self._note(response)
            async for _ in response.aiter_lines():
                pass

    async def stream(self) -> None:
        await self._stream()

    async def drop(self) -> None:
        await self._stream(drop_after=3)

    async def cancel(self) -> None:
        await self._stream(cancel=True)

    async def list(self) -> None:
        self._note(await self.http.get("/threads", params={"limit": 20}))

    async def delete(self) -> None:
        """A turn on a throwaway thread, then the thread deleted (its turns leave the audit)."""
        kept, self.thread = self.thread, self._new_thread()
        try:
            await self.chat()
            response = self._note(await self.http.delete(f"/threads/{self.thread}"))
            if response.status_code == 204:
                self.result.deleted_threads.add(self.thread)
        finally:
            self.thread = kept


async def _frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """SSE frames with an event name (the same parsing as `support.sse.frames`, async)."""
    frame = Frame()
    async for line in response.aiter_lines():
        if line == "":
            if frame.event is not None:
                yield frame
            frame = Frame()
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            frame.event = value
        elif name == "data":
            frame.data = value


async def _client_loop(
    client: _Client, deadline: float, budget: list[int], rng: random.Random
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        action = rng.choice(ACTIONS)
        client.result.actions[action] += 1
        try:
            await getattr(client, action)()
        except httpx.HTTPError as exc:
            client.result.unanswered.append(f"{action}: {exc!r}")


async def soak(
    url: str, *, clients: int, seconds: float, max_actions: int, seed: int = 20
) -> SoakResult:
    """`clients` concurrent clients for `seconds` or `max_actions` actions, whichever is first."""
    result = SoakResult()
    rng = random.Random(seed)
    budget = [max_actions]
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        loops = [
            _client_loop(_Client(http, result, number), began + seconds, budget, rng)
            for number in range(clients)
        ]
        await asyncio.gather(*loops)
    result.seconds = time.monotonic() - began
    return result


def audit(database_url: str, result: SoakResult) -> dict[str, Any]:
    """Counts, for every accepted turn of a kept thread, its user message and its reply."""
    rows = query(
        database_url,
        "SELECT run_id, role, content, COUNT(*) AS n FROM messages "
        "WHERE role IN ('user', 'assistant') GROUP BY run_id, role, content",
    )
    users: Counter[tuple[str, str]] = Counter()
    replies: Counter[str] = Counter()
    for row in rows:
        if row["role"] == "user":
            users[(row["run_id"], row["content"])] += row["n"]
        else:
            replies[row["run_id"]] += row["n"]
    kept = {
        run: text
        for run, text in result.accepted.items()
        if result.run_threads[run] not in result.deleted_threads
    }
    running = query(database_url, "SELECT COUNT(*) AS n FROM runs WHERE status = 'running'")
    return {
        "checked_turns": len(kept),
        "user_not_once": sorted(run for run, text in kept.items() if users[(run, text)] != 1),
        "reply_not_once": sorted(run for run in kept if replies[run] != 1),
        "running": running[0]["n"],
    }
