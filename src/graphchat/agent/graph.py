"""`build_graph`: a pure function from a provider (and tools) to a compiled agent graph."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphchat.agent.nodes import make_call_model
from graphchat.agent.state import AgentState, RunContext
from graphchat.llm.base import ChatProvider

AgentGraph = CompiledStateGraph[AgentState, RunContext, Any, Any]

AGENT_NODE = "agent"


def build_graph(provider: ChatProvider) -> AgentGraph:
    """START → agent → END; the agent node streams one reply from `provider`."""
    graph = StateGraph(AgentState, context_schema=RunContext)
    graph.add_node(AGENT_NODE, make_call_model(provider))
    graph.add_edge(START, AGENT_NODE)
    graph.add_edge(AGENT_NODE, END)
    return graph.compile(name="graphchat-agent")
