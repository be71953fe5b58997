"""The LangGraph agent: state, nodes and the pure `build_graph` that wires them."""

from graphchat.agent.graph import AgentGraph, build_graph
from graphchat.agent.state import (
    ApprovalRequest,
    ModelReply,
    RunContext,
    TokenDelta,
    ToolResult,
)
from graphchat.agent.tools.approval import Decision

__all__ = [
    "AgentGraph",
    "ApprovalRequest",
    "Decision",
    "ModelReply",
    "RunContext",
    "TokenDelta",
    "ToolResult",
    "build_graph",
]
