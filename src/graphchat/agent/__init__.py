"""The LangGraph agent: state, nodes and the pure `build_graph` that wires them.

`build_graph` and `AgentGraph` live in `graphchat.agent.graph`, which imports LangGraph: import it
where the graph is built (see `deferred.py`), not for the light types re-exported here.
"""

from graphchat.agent.deferred import DeferredGraph
from graphchat.agent.state import (
    ApprovalRequest,
    BeforeStored,
    ModelReply,
    RunContext,
    RunEvents,
    ToolResult,
)
from graphchat.agent.tools.approval import Decision

__all__ = [
    "ApprovalRequest",
    "BeforeStored",
    "Decision",
    "DeferredGraph",
    "ModelReply",
    "RunContext",
    "RunEvents",
    "ToolResult",
]
