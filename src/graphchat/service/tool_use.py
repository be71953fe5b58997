"""Which tools a turn may use, and the owner-bound message search handed to the tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from graphchat.agent.tools import MessageSearch, SearchHit, build_registry
from graphchat.agent.tools import ToolRegistry as ToolRegistry  # the routers' name for it
from graphchat.agent.tools.approval import approval_required
from graphchat.errors import ValidationFailed
from graphchat.service.approvals import TurnSetup
from graphchat.service.turn_request import TurnRequest
from graphchat.store.messages import MessageRepository

log = structlog.get_logger(__name__)

THREAD_TOOLS_KEY = "tools"
THREAD_APPROVAL_KEY = "require_approval"


def enabled_tool_names(enabled: Sequence[str]) -> list[str]:
    """The names of the tools `enabled` turns on, sorted (as given when one is unknown: the
    wiring refuses it, with the reason, when the services open)."""
    try:
        return sorted(build_registry(enabled).names())
    except ValueError:
        return sorted(enabled)


def check_tool_names(
    registry: ToolRegistry, names: Sequence[str] | None, loc: Sequence[str]
) -> tuple[str, ...] | None:
    """`names` as given, or `ValidationFailed` naming the unknown ones (None: not chosen)."""
    if names is None:
        return None
    unknown = registry.unknown(names)
    if unknown:
        raise ValidationFailed(
            f"unknown tool(s): {', '.join(unknown)}; available: {registry.describe()}",
            details=[
                {"loc": [*loc], "msg": f"unknown tool '{name}'", "type": "unknown_tool"}
                for name in unknown
            ],
        )
    return tuple(dict.fromkeys(names))


def tools_for_turn(
    registry: ToolRegistry, requested: Sequence[str] | None, thread_metadata: dict[str, Any]
) -> tuple[str, ...]:
    """The request's tools, else the thread's `metadata.tools`, else the server's defaults.

    A thread may name tools that were uninstalled since: those are skipped, not fatal.
    """
    if requested is not None:
        return tuple(requested)
    chosen = thread_metadata.get(THREAD_TOOLS_KEY)
    if isinstance(chosen, list) and all(isinstance(name, str) for name in chosen):
        unknown = registry.unknown(chosen)
        if unknown:
            log.warning("thread_names_unknown_tools", tools=unknown)
        return tuple(name for name in chosen if name not in unknown)
    return registry.defaults


def approval_for_turn(
    server: Sequence[str],
    requested: Sequence[str],
    thread_metadata: dict[str, Any],
    offered: Sequence[str],
) -> frozenset[str]:
    """The offered tools whose calls wait for a person on this turn.

    The server's list always applies; a thread (`metadata.require_approval`) and a request can
    only add to it, so no client can lift an approval the operator asked for.
    """
    chosen = thread_metadata.get(THREAD_APPROVAL_KEY)
    from_thread = chosen if isinstance(chosen, list) else []
    patterns = [*server, *requested, *(name for name in from_thread if isinstance(name, str))]
    return approval_required(patterns, offered)


def turn_setup(
    registry: ToolRegistry,
    server_approval: Sequence[str],
    request: TurnRequest,
    thread_metadata: dict[str, object],
) -> TurnSetup:
    """What a new turn runs with: the request's settings and the tools it may use."""
    tools = tools_for_turn(registry, request.tools, thread_metadata)
    return TurnSetup(
        system=request.system,
        tools=tools,
        require_approval=approval_for_turn(
            server_approval, request.require_approval, thread_metadata, tools
        ),
        params=request.params,
        context=request.context,
        client_tools=request.client_tools,
        tool_choice=request.tool_choice,
        response_format=request.response_format,
    )


def owner_message_search(messages: MessageRepository, owner: str, run_id: str) -> MessageSearch:
    """A search over `owner`'s messages only, leaving out the messages of the current run."""

    async def search(query: str, *, limit: int) -> list[SearchHit]:
        found = await messages.search(owner, query, limit=limit, exclude_run_id=run_id)
        return [
            SearchHit(
                thread_id=message.thread_id,
                seq=message.seq,
                role=message.role,
                content=message.content,
                created_at=message.created_at,
            )
            for message in found
        ]

    return search


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A registered tool as `GET /tools` lists it."""

    name: str
    source: str
    description: str
    parameters: dict[str, Any]
    requires_approval: bool  # by the server's setting; threads and requests may add more
    default: bool  # offered on turns that name no tools


def tool_catalog(registry: ToolRegistry, server_approval: Sequence[str]) -> list[ToolInfo]:
    """Every registered tool, by name, with where it comes from and whether it waits."""
    names = registry.names()
    waiting = approval_required(server_approval, names)
    defaults = set(registry.defaults)
    return [
        ToolInfo(
            name=tool.name,
            source=registry.source_of(tool.name),
            description=tool.description,
            parameters=tool.parameters,
            requires_approval=tool.name in waiting,
            default=tool.name in defaults,
        )
        for tool in (registry.get(name) for name in names)
        if tool is not None
    ]
