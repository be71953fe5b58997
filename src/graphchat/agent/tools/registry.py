"""The tool registry: built-in tools, plugins from the `graphchat.tools` entry-point group,
and tools registered in-process, with the names offered to the model by default.

A plugin entry point names a `Tool`, or a callable returning a `Tool` or an iterable of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points

import structlog

from graphchat.agent.tools.base import Tool
from graphchat.agent.tools.calculator import CALCULATOR
from graphchat.agent.tools.clock import CURRENT_TIME
from graphchat.agent.tools.history import SEARCH_MESSAGES
from graphchat.llm.base import ToolSpec

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "graphchat.tools"
BUILTIN_TOOLS: tuple[Tool, ...] = (CALCULATOR, CURRENT_TIME, SEARCH_MESSAGES)


class ToolRegistry:
    """Tools by name. `defaults` are offered on a turn that names no tools of its own."""

    def __init__(
        self, tools: Iterable[Tool] = (), *, defaults: Sequence[str] = (), source: str = "builtin"
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self._sources: dict[str, str] = {}
        self._defaults: tuple[str, ...] = ()
        for tool in tools:
            self.register(tool, source=source)
        self.set_defaults(defaults)

    def register(self, tool: Tool, *, source: str = "local", default: bool = False) -> None:
        """Add a tool from `source` (`builtin`, `plugin`, `mcp:<server>`…); `default` also
        offers it on turns that name no tools. A taken name is refused (no silent shadowing)."""
        if tool.name in self._tools:
            raise ValueError(f"a tool named '{tool.name}' is already registered")
        self._tools[tool.name] = tool
        self._sources[tool.name] = source
        if default:
            self._defaults = (*self._defaults, tool.name)

    def source_of(self, name: str) -> str:
        return self._sources.get(name, "local")

    def set_defaults(self, names: Sequence[str]) -> None:
        unknown = self.unknown(names)
        if unknown:
            raise ValueError(f"unknown tool(s): {', '.join(unknown)}; known: {self.describe()}")
        self._defaults = tuple(dict.fromkeys(names))

    @property
    def defaults(self) -> tuple[str, ...]:
        return self._defaults

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names in `names` that no registered tool has."""
        return [name for name in names if name not in self._tools]

    def specs(self, names: Iterable[str]) -> tuple[ToolSpec, ...]:
        """The specs of the known tools among `names` (unknown names are skipped)."""
        chosen = dict.fromkeys(name for name in names if name in self._tools)
        return tuple(self._tools[name].spec for name in chosen)

    def describe(self) -> str:
        return ", ".join(self.names()) or "none"

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)


def _tools_of(entry_point: EntryPoint) -> list[Tool]:
    loaded = entry_point.load()
    produced = loaded if isinstance(loaded, Tool) else loaded()
    tools = [produced] if isinstance(produced, Tool) else list(produced)
    if not all(isinstance(tool, Tool) for tool in tools):
        raise TypeError("the entry point must give a Tool or an iterable of Tools")
    return tools


def plugin_tools(group: str = ENTRY_POINT_GROUP) -> list[Tool]:
    """Tools of the installed plugins; a plugin that fails to load is logged and skipped."""
    found: list[Tool] = []
    for entry_point in entry_points(group=group):
        try:
            found.extend(_tools_of(entry_point))
        except Exception as exc:  # a broken plugin must not stop the server
            log.error("tool_plugin_failed", entry_point=entry_point.value, error=repr(exc))
    return found


def build_registry(
    enabled: Sequence[str], *, plugins: bool = True, group: str = ENTRY_POINT_GROUP
) -> ToolRegistry:
    """Built-in and plugin tools, with `enabled` offered by default (unknown names raise)."""
    registry = ToolRegistry(BUILTIN_TOOLS)
    for tool in plugin_tools(group) if plugins else ():
        try:
            registry.register(tool, source="plugin")
        except ValueError as exc:
            log.error("tool_plugin_refused", tool=tool.name, error=str(exc))
    registry.set_defaults(enabled)
    return registry
