"""The compiled graph, built off the start-up path.

Importing LangGraph (with LangChain and LangSmith under it) is about half of start-up's CPU, and
`/health` needs none of it: the service starts serving while a worker thread imports and compiles
the graph, and the first turn waits for it if it is not ready yet.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphchat.agent.graph import AgentGraph
    from graphchat.agent.tools.registry import ToolRegistry
    from graphchat.llm.base import ChatProvider


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
