"""Tools the agent can call: the `Tool` type, the registry, and the built-in tools.

Write a plugin tool as a `Tool` and expose it in the `graphchat.tools` entry-point group.
"""

from graphchat.agent.tools.base import (
    MessageSearch,
    SearchHit,
    Tool,
    ToolContext,
    ToolError,
    ToolFunction,
    string_argument,
)
from graphchat.agent.tools.calculator import CALCULATOR, calculate
from graphchat.agent.tools.clock import CURRENT_TIME
from graphchat.agent.tools.history import SEARCH_MESSAGES
from graphchat.agent.tools.registry import (
    BUILTIN_TOOLS,
    ENTRY_POINT_GROUP,
    ToolRegistry,
    build_registry,
    plugin_tools,
)

__all__ = [
    "BUILTIN_TOOLS",
    "CALCULATOR",
    "CURRENT_TIME",
    "ENTRY_POINT_GROUP",
    "SEARCH_MESSAGES",
    "MessageSearch",
    "SearchHit",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFunction",
    "ToolRegistry",
    "build_registry",
    "calculate",
    "plugin_tools",
    "string_argument",
]
