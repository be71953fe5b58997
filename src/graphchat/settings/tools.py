"""Tools offered to the model, their approval, and MCP servers whose tools join them."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import Field, NonNegativeInt, PositiveFloat, field_validator, model_validator

from graphchat.settings.base import CsvList, Group, http_url

_MCP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_MCP_HTTP_TRANSPORTS = {"streamable_http", "streamable-http", "http", "sse"}


def check_mcp_connection(name: str, connection: dict[str, Any], *, allow_stdio: bool) -> None:
    """Refuse an MCP server entry that would fail later, or start a process unasked."""
    where = f"GRAPHCHAT_MCP_SERVERS[{name!r}]"
    if not _MCP_NAME.match(name):
        raise ValueError(f"{where}: a server name is 1-30 of A-Z a-z 0-9 _ -")
    transport = connection.get("transport")
    if transport == "stdio":
        if not allow_stdio:
            raise ValueError(
                f"{where}: stdio servers start local processes; set GRAPHCHAT_MCP_ALLOW_STDIO=true"
            )
        if not isinstance(connection.get("command"), str):
            raise ValueError(f"{where}: a stdio server needs a `command`")
        return
    if transport not in _MCP_HTTP_TRANSPORTS:
        raise ValueError(f"{where}: transport must be streamable_http, sse or stdio")
    http_url(str(connection.get("url", "")))


class ToolsSettings(Group):
    title: ClassVar[str] = "Tools"

    enabled: CsvList = Field(
        default_factory=lambda: ["calculator", "current_time", "search_messages"],
        alias="tools_enabled",
        description="Tools offered to the model on every turn whose request and thread name none "
        "(comma-separated; empty: none). Built-ins: `calculator`, `current_time`, "
        "`search_messages`; plugin tools (entry-point group `graphchat.tools`) by name.",
    )
    max_rounds: NonNegativeInt = Field(
        4,
        le=25,
        alias="tool_max_rounds",
        description="Most tool rounds per turn; then the model answers once more without tools.",
    )
    timeout_seconds: PositiveFloat = Field(
        10.0,
        le=600,
        alias="tool_timeout_seconds",
        description="Seconds one tool call may run before it is abandoned.",
    )
    require_approval: CsvList = Field(
        default_factory=list,
        alias="tools_require_approval",
        description="Tools whose calls wait for a person's approval before they run "
        "(comma-separated names or patterns such as `github__*`; `*`: all). Threads and requests "
        "can add tools, never remove these.",
    )


class McpSettings(Group):
    title: ClassVar[str] = "MCP"

    servers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        alias="mcp_servers",
        description="MCP servers whose tools join the registry as `<server>__<tool>`: JSON "
        '`{"name": {"transport": "streamable_http", "url": "http://…/mcp", "headers": {…}}}` '
        "(transports `streamable_http`, `sse`; `stdio` needs `GRAPHCHAT_MCP_ALLOW_STDIO`).",
    )
    allow_stdio: bool = Field(
        False,
        alias="mcp_allow_stdio",
        description="Allow `stdio` MCP servers: graphchat then starts their commands itself.",
    )
    retry_seconds: PositiveFloat = Field(
        30.0,
        alias="mcp_retry_seconds",
        description="How often an unreachable MCP server is tried again.",
    )
    connect_timeout: PositiveFloat = Field(
        10.0,
        alias="mcp_connect_timeout",
        description="Seconds to connect to an MCP server and list its tools.",
    )

    @field_validator("servers", mode="before")
    @classmethod
    def _parse_servers(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('must be JSON: {"name": {"transport": …, "url": …}}') from None
        return value

    @model_validator(mode="after")
    def _check_servers(self) -> McpSettings:
        for name, connection in self.servers.items():
            check_mcp_connection(name, connection, allow_stdio=self.allow_stdio)
        return self
