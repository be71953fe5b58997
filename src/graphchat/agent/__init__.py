"""The LangGraph agent: state, nodes and the pure `build_graph` that wires them."""

from graphchat.agent.graph import AgentGraph, build_graph
from graphchat.agent.state import AgentState, ModelReply, RunContext, TokenDelta, ToolResult

__all__ = [
    "AgentGraph",
    "AgentState",
    "ModelReply",
    "RunContext",
    "TokenDelta",
    "ToolResult",
    "build_graph",
]
