"""The compiled graph, built off the start-up path.

Importing LangGraph (with LangChain and LangSmith under it) is about half of start-up's CPU, and
`/health` needs none of it: the service starts serving while a worker thread imports and compiles
the graph, and the first turn waits for it if it is not ready yet.

While it builds, the event loop shares the GIL with that thread. After each wait for I/O the loop
asks for the GIL back and CPython hands it over only at the end of its switch interval (5 ms),
so a start-up's last steps and first requests crawled: start-up to `/health` and to the first
turn each took 0.1–0.3 s longer than with a 0.5 ms interval while the build runs
(bench/analysis.md, round 38).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphchat.agent.graph import AgentGraph
    from graphchat.agent.tools.registry import ToolRegistry
    from graphchat.llm.base import ChatProvider


class ShortGILSwitches:
    """CPython's switch interval shortened while any build runs, as it was once none does."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._running = 0
        self._previous = 0.0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._previous = sys.getswitchinterval()
                sys.setswitchinterval(self._seconds)
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    sys.setswitchinterval(self._previous)


WHILE_BUILDING = ShortGILSwitches(0.0005)


class DeferredGraph:
    """`build_graph(provider, tools)`, run once in a worker thread."""

    def __init__(self, provider: ChatProvider, tools: ToolRegistry) -> None:
        self._provider = provider
        self._tools = tools
        self._graph: AgentGraph | None = None
        self._building: asyncio.Future[AgentGraph] | None = None

    def start(self) -> None:
        """Begin building now (from the running event loop); `ready()` also starts it."""
        if self._building is None:
            self._building = asyncio.ensure_future(asyncio.to_thread(self._build))

    def _build(self) -> AgentGraph:
        with WHILE_BUILDING.held():
            from graphchat.agent.graph import build_graph  # the expensive import, see above

            return build_graph(self._provider, self._tools)

    async def ready(self) -> AgentGraph:
        """The compiled graph, once built."""
        if self._graph is None:
            self.start()
            assert self._building is not None
            # Shielded: a turn cancelled while it waits must not cancel the build for the others.
            self._graph = await asyncio.shield(self._building)
        return self._graph
