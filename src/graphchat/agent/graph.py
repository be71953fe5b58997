"""`build_graph`: a pure function from a provider (and tools) to a compiled agent graph.

Built on LangGraph's Pregel runtime with some of the internals `StateGraph` builds its graphs
with (`coerce_to_runnable`, `PregelNode`, `ChannelWrite.do_write`, `ChannelWriteTupleEntry`; the
version is pinned by the lock file, and tests/unit/agent/test_graph.py fails if they move).
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import coerce_to_runnable
from langgraph.channels import BinaryOperatorAggregate, EphemeralValue, LastValue
from langgraph.graph import END
from langgraph.pregel import NodeBuilder, Pregel
from langgraph.pregel._read import PregelNode
from langgraph.pregel._write import ChannelWrite, ChannelWriteTupleEntry
from langgraph.runtime import Runtime
from langgraph.types import Command

from graphchat.agent.nodes import (
    AGENT_NODE,
    REVIEW_NODE,
    TOOLS_NODE,
    Node,
    agent_request,
    make_call_model,
    make_run_tools,
    request_approval,
)
from graphchat.agent.opening import OpenedRequest
from graphchat.agent.state import AgentState, RunContext
from graphchat.agent.tools.registry import ToolRegistry
from graphchat.llm.base import ChatProvider

_STATE = ("messages", "tool_rounds", "decisions")


def _trigger(node: str) -> str:
    """The channel whose write runs `node` in the next step."""
    return f"to:{node}"


class AgentGraph:
    """The agent as LangGraph runs it, started at the agent node.

    Built on LangGraph's Pregel runtime rather than `StateGraph`: a `StateGraph` runs its input
    through a `__start__` task first, one more task, checkpoint and callback round per turn
    (0.1–0.14 ms of CPU, `python -m bench.graph_cost`). Here the input itself triggers the
    agent node.
    """

    def __init__(
        self, pregel: Pregel[AgentState, RunContext, Any, Any], provider: ChatProvider
    ) -> None:
        self.pregel = pregel
        self._provider = provider

    async def ainvoke(
        self,
        state: AgentState | dict[str, Any],
        config: RunnableConfig | None = None,
        *,
        context: RunContext,
    ) -> dict[str, Any]:
        """Run one turn from `state`; the state it ends in."""
        start = {**state, _trigger(AGENT_NODE): True}
        opened = self._open(state, context)
        if opened is None:
            return dict(await self.pregel.ainvoke(start, config, context=context))
        try:
            await asyncio.sleep(0)  # the request leaves: LangGraph's set-up runs meanwhile
            early = context.before_stored
            if early is not None and early.streamed:  # unless the first token can go first
                await opened.lead(context.events, early.stored)
            return dict(
                await self.pregel.ainvoke(start, config, context=replace(context, opened=opened))
            )
        finally:
            await opened.close()

    def _open(
        self, state: AgentState | dict[str, Any], context: RunContext
    ) -> OpenedRequest | None:
        """The agent node's first request, sent now (agent/opening.py); None where the node
        would send nothing yet."""
        early = context.before_stored
        if early is not None and not early.ask_ahead:
            return None  # nothing leaves the process for a run that is not stored
        if state.get("decisions"):
            return None  # a resumed run starts at the tools
        opened = OpenedRequest(self._provider, agent_request(cast(AgentState, state), context))
        if early is not None:
            early.about_to_wait()
        return opened


def build_graph(provider: ChatProvider, tools: ToolRegistry | None = None) -> AgentGraph:
    """agent ⇄ tools → end, with a pause at `review`.

    The agent node streams one reply from `provider`; while it asks for tools (and rounds are
    left, see `RunContext.max_tool_rounds`) the tools node runs them from `tools` and loops back.
    Which tools a run may use is `RunContext.tools`. A call to a tool in
    `RunContext.require_approval` goes to `review` instead, which ends the run paused; the run
    resumes at the tools node with the person's `decisions` in the state.
    """
    registry = tools if tools is not None else ToolRegistry()
    nodes: dict[str, PregelNode | NodeBuilder] = {  # as `Pregel` types them
        # The agent node routes itself (a `Command`); a resumed run passes through it.
        AGENT_NODE: _node(AGENT_NODE, make_call_model(provider), then=None),
        TOOLS_NODE: _node(TOOLS_NODE, make_run_tools(registry), then=AGENT_NODE),
        REVIEW_NODE: _node(REVIEW_NODE, request_approval, then=None),
    }
    channels: dict[str, Any] = {
        "messages": BinaryOperatorAggregate(list, operator.add),
        "tool_rounds": LastValue(int),
        "decisions": LastValue(tuple),
    }
    channels |= {_trigger(name): EphemeralValue(bool) for name in nodes}
    pregel: Pregel[AgentState, RunContext, Any, Any] = Pregel(
        nodes=nodes,
        channels=channels,
        input_channels=[*_STATE, _trigger(AGENT_NODE)],
        output_channels=list(_STATE),
        stream_mode="values",
        context_schema=RunContext,
        name="graphchat-agent",
    )
    return AgentGraph(pregel, provider)


def _node(name: str, node: Node, *, then: str | None) -> PregelNode:
    """`node`, run when its trigger is written, reading the state; its update goes to the state
    and control to the node its `Command` names, else to `then` (None: the run ends)."""
    # The node writes its update itself. Written by a writer LangGraph runs after it, a node runs
    # as a `RunnableSeq`, whose callback run (start, end, child managers, and the end shielded in
    # a task of its own) took ~0.1 ms of CPU and five loop iterations per step.
    writes = _writes(then)

    async def step(
        state: AgentState, *, runtime: Runtime[RunContext], config: RunnableConfig
    ) -> dict[str, Any] | Command[str]:
        output = await node(state, runtime=runtime)
        ChannelWrite.do_write(config, [ChannelWriteTupleEntry(mapper=writes, value=output)])
        return output

    # Untraced, as `StateGraph` wraps a node (`do` would trace it). LangGraph injects `runtime`
    # and `config` into a callable that takes them, though `RunnableLike` does not list such
    # callables.
    bound = coerce_to_runnable(step, name=name, trace=False)  # type: ignore[arg-type]
    return PregelNode(channels=list(_STATE), triggers=[_trigger(name)], bound=bound)


def _writes(then: str | None) -> Callable[[Any], Sequence[tuple[str, Any]]]:
    def writes(output: dict[str, Any] | Command[str]) -> list[tuple[str, Any]]:
        update: Any = output
        goto: Any = then
        if isinstance(output, Command):
            update, goto = output.update or {}, output.goto
        pairs = list(update.items())
        if isinstance(goto, str) and goto != END:
            pairs.append((_trigger(goto), True))
        return pairs

    return writes
