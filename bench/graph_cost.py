"""LangGraph's own cost per turn: the compiled agent graph vs the same provider called directly.

`python -m bench.graph_cost [--turns N]` runs N one-reply turns through `build_graph` (compiled
once, run as the service runs it: `ainvoke` with the tokens and events handed to a `RunEvents`
sink) and N direct streams of the same instant in-process provider, and prints the CPU per turn
of each and their difference.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator

from graphchat.agent import ApprovalRequest, ModelReply, RunContext, ToolResult
from graphchat.agent.graph import build_graph
from graphchat.llm.base import ChatChunk, ChatMessage, ChatRequest, ModelInfo, Usage

TOKENS = 20


class InstantProvider:
    """Twenty one-word chunks at once: no I/O, so only the caller's own work is timed."""

    name = "instant"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        for _ in range(TOKENS):
            yield ChatChunk(content="word ")
        yield ChatChunk(done=True, finish_reason="stop", usage=Usage(7, TOKENS))

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(name="m", backend=self.name)]

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _Discard:
    """A `RunEvents` that keeps nothing: the recorder's own work is not LangGraph's."""

    def token(self, text: str) -> None:
        pass

    async def event(self, item: ModelReply | ToolResult | ApprovalRequest) -> None:
        pass


async def _graph(turns: int) -> float:
    graph = build_graph(InstantProvider())
    context = RunContext(model="m", events=_Discard())
    state = {"messages": [ChatMessage(role="user", content="hi")], "tool_rounds": 0}
    began = time.process_time()
    for _ in range(turns):
        await graph.ainvoke(state, context=context)
    return (time.process_time() - began) / turns


async def _direct(turns: int) -> float:
    provider = InstantProvider()
    request = ChatRequest(model="m", messages=(ChatMessage(role="user", content="hi"),))
    began = time.process_time()
    for _ in range(turns):
        async for _chunk in provider.stream(request):
            pass
    return (time.process_time() - began) / turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(_graph(50))  # warm-up: imports, first compilation of the graph's code paths
    graph, direct = asyncio.run(_graph(args.turns)), asyncio.run(_direct(args.turns))
    print(
        f"CPU per turn: graph {graph * 1000:.3f} ms, provider alone {direct * 1000:.3f} ms, "
        f"LangGraph and the agent node add {(graph - direct) * 1000:.3f} ms"
    )


if __name__ == "__main__":
    main()
