"""`GET /tools`: the tools the model may be offered, and the state of the MCP servers."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from graphchat.api.deps import ServicesDep
from graphchat.api.schemas import McpServerOut, ToolList, ToolOut
from graphchat.service.tool_use import tool_catalog

router = APIRouter(tags=["tools"])


@router.get("/tools")
async def list_tools(services: ServicesDep) -> ToolList:
    """Every registered tool (name, source, description, schema, approval) and MCP servers."""
    catalog = tool_catalog(services.tools, services.settings.tools.require_approval)
    servers = services.mcp.servers.values() if services.mcp is not None else ()
    return ToolList(
        tools=[ToolOut.model_validate(asdict(info)) for info in catalog],
        mcp_servers=[
            McpServerOut.model_validate({**asdict(status), "tools": list(status.tools)})
            for status in servers
        ],
    )
