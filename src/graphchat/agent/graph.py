"""`build_graph`: a pure function from a provider (and tools) to a compiled agent graph."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphchat.agent.nodes import (
    AGENT_NODE,
    REVIEW_NODE,
    TOOLS_NODE,
    make_call_model,
    make_run_tools,
    request_approval,
)
from graphchat.agent.state import AgentState, RunContext
from graphchat.agent.tools.registry import ToolRegistry
from graphchat.llm.base import ChatProvider

AgentGraph = CompiledStateGraph[AgentState, RunContext, Any, Any]


def build_graph(provider: ChatProvider, tools: ToolRegistry | None = None) -> AgentGraph:
    """START → agent ⇄ tools → END, with a pause at `review`.

    The agent node streams one reply from `provider`; while it asks for tools (and rounds are
    left, see `RunContext.max_tool_rounds`) the tools node runs them from `tools` and loops back.
    Which tools a run may use is `RunContext.tools`. A call to a tool in
    `RunContext.require_approval` goes to `review` instead, which ends the run paused; the run
    resumes at the tools node with the person's `decisions` in the state.
    """
    graph = StateGraph(AgentState, context_schema=RunContext)
    # The agent node routes itself (see `make_call_model`); a resumed run passes through it.
    graph.add_node(
        AGENT_NODE, make_call_model(provider), destinations=(TOOLS_NODE, REVIEW_NODE, END)
    )
    graph.add_node(TOOLS_NODE, make_run_tools(tools if tools is not None else ToolRegistry()))
    graph.add_node(REVIEW_NODE, request_approval)
    graph.add_edge(START, AGENT_NODE)
    graph.add_edge(TOOLS_NODE, AGENT_NODE)
    graph.add_edge(REVIEW_NODE, END)
    return graph.compile(name="graphchat-agent")
