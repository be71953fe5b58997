"""MCP servers as a tool source, through `langchain-mcp-adapters`.

Each configured server's tools join the registry as `<server>__<tool>` and are then run like
any tool (time limit, error messages, round limit, approvals). A server that cannot be reached
is reported and retried in the background; a call to a server that went down becomes an error
message the model reads, never a failed turn.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import structlog
from langchain_core.tools import BaseTool, ToolException
from langchain_mcp_adapters.client import MultiServerMCPClient

from graphchat.agent.tools.base import Tool, ToolContext, ToolError
from graphchat.agent.tools.registry import ToolRegistry
from graphchat.json_text import dumps_text

log = structlog.get_logger(__name__)

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
MAX_ERROR_CHARS = 300
PROBE_SECONDS = 1.0


def _address(connection: Mapping[str, Any]) -> tuple[str, int] | None:
    """Host and port of an HTTP server's URL (None for stdio)."""
    url = connection.get("url")
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return (parts.hostname, parts.port or default) if parts.hostname else None


async def _until_refused(address: tuple[str, int]) -> None:
    """Return once the server refuses connections: its process is gone.

    The MCP client does not fail a pending call when the server dies mid-call (it waits for
    the read timeout), so a call in flight is raced against this probe.
    """
    while True:
        await asyncio.sleep(PROBE_SECONDS)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(*address), PROBE_SECONDS)
        except TimeoutError:
            continue  # slow, not gone
        except OSError:
            return
        writer.close()


async def _invoke(
    remote: BaseTool, arguments: dict[str, Any], address: tuple[str, int] | None
) -> Any:
    if address is None:
        return await remote.ainvoke(arguments)
    call = asyncio.ensure_future(remote.ainvoke(arguments))
    probe = asyncio.ensure_future(_until_refused(address))
    try:
        await asyncio.wait({call, probe}, return_when=asyncio.FIRST_COMPLETED)
        if not call.done():
            raise ConnectionError("the server stopped accepting connections during the call")
        return call.result()
    finally:
        call.cancel()
        probe.cancel()
        await asyncio.gather(call, probe, return_exceptions=True)


def mcp_tool_name(server: str, tool: str) -> str:
    """The registry name of an MCP tool: server prefix, characters every backend accepts."""
    return _UNSAFE_NAME_CHARS.sub("_", f"{server}__{tool}")[:64]


@dataclass
class ServerStatus:
    """What graphchat last saw of one MCP server."""

    name: str
    transport: str
    ok: bool = False
    error: str | None = "not connected yet"
    tools: tuple[str, ...] = ()
    checked_at: datetime | None = None


def _content_text(content: object) -> str:
    """An MCP result (text blocks, other blocks, or a string) as the text the model reads."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(block.get("text", ""))
            if isinstance(block, dict) and block.get("type") == "text"
            else dumps_text(block, default=str)
            for block in content
        ]
        return "\n".join(parts)
    return dumps_text(content, default=str)


def _short(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):  # anyio task groups wrap transport errors
        return _short(exc.exceptions[0])
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:MAX_ERROR_CHARS]


class McpToolSource:
    """Connects to the configured MCP servers and keeps their tools in `registry`."""

    def __init__(
        self,
        connections: Mapping[str, dict[str, Any]],
        registry: ToolRegistry,
        *,
        retry_seconds: float,
        list_timeout: float,
    ) -> None:
        self._client = MultiServerMCPClient(dict(connections), handle_tool_errors=False)  # type: ignore[arg-type]
        self._registry = registry
        self._retry = retry_seconds
        self._list_timeout = list_timeout
        self.servers = {
            name: ServerStatus(name, str(connection.get("transport")))
            for name, connection in connections.items()
        }
        self._addresses = {name: _address(connection) for name, connection in connections.items()}

    async def connect_all(self) -> None:
        """Try every server not connected yet, concurrently; failures are recorded, not raised."""
        waiting = [name for name, status in self.servers.items() if not status.tools]
        await asyncio.gather(*(self._connect(name) for name in waiting))

    async def run_forever(self) -> None:
        """Retry the servers that are down (or were never reached)."""
        while True:
            await asyncio.sleep(self._retry)
            await asyncio.gather(
                *(self._connect(name) for name, status in self.servers.items() if not status.ok)
            )

    async def _connect(self, server: str) -> None:
        status = self.servers[server]
        status.checked_at = datetime.now(UTC)
        try:
            async with asyncio.timeout(self._list_timeout):
                found = await self._client.get_tools(server_name=server)
        except Exception as exc:  # any failure of a remote server is reported, never fatal
            self._mark_down(server, exc)
            return
        names = []
        for remote in found:
            tool = self._wrap(server, remote)
            if self._registry.get(tool.name) is None:
                self._registry.register(tool, source=f"mcp:{server}", default=True)
            names.append(tool.name)
        status.ok, status.error, status.tools = True, None, tuple(names)
        log.info("mcp_server_connected", server=server, tools=len(names))

    def _mark_down(self, server: str, exc: BaseException) -> None:
        status = self.servers[server]
        if status.ok or status.error == "not connected yet":
            log.warning("mcp_server_unreachable", server=server, error=_short(exc))
        status.ok, status.error = False, _short(exc)

    def _wrap(self, server: str, remote: BaseTool) -> Tool:
        schema = remote.args_schema if isinstance(remote.args_schema, dict) else {}

        async def run(arguments: dict[str, Any], context: ToolContext) -> str:
            try:
                return _content_text(await _invoke(remote, arguments, self._addresses[server]))
            except ToolException as exc:  # the server ran the tool and reported a failure
                raise ToolError(str(exc)) from exc
            except Exception as exc:  # the server is gone: say so, and let the retry loop in
                self._mark_down(server, exc)
                raise ToolError(f"MCP server '{server}' failed: {_short(exc)}") from exc

        return Tool(
            name=mcp_tool_name(server, remote.name),
            description=remote.description or f"{remote.name} (MCP server {server})",
            parameters=schema or {"type": "object", "properties": {}},
            run=run,
        )
