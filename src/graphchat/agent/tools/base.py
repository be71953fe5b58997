"""What a tool is: a name, a JSON schema of its arguments, and an async function to run it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from graphchat.llm.base import ToolSpec

# The name rule of OpenAI's API, the strictest of the backends we speak.
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolError(Exception):
    """A failure a tool reports on purpose; its message is what the model reads."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One of the caller's earlier messages found by `search_messages`."""

    thread_id: str
    seq: int
    role: str
    content: str
    created_at: datetime


class MessageSearch(Protocol):
    """Searches the messages of the run's owner only (the owner is bound by the service)."""

    async def __call__(self, query: str, *, limit: int) -> list[SearchHit]: ...


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may know about the run calling it; never read from globals."""

    owner: str = ""
    thread_id: str = ""
    search_messages: MessageSearch | None = None
    now: Callable[[], datetime] | None = None


ToolFunction = Callable[[dict[str, Any], ToolContext], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call. `run` gets the decoded arguments and the run's context.

    It returns a string or anything JSON-serialisable; raising `ToolError` reports a failure
    the model should read (other exceptions are reported too, with their type).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: ToolFunction = field(compare=False)

    def __post_init__(self) -> None:
        if not TOOL_NAME_PATTERN.match(self.name):
            raise ValueError(f"invalid tool name {self.name!r}: use 1-64 of A-Z a-z 0-9 _ -")

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)


def string_argument(arguments: dict[str, Any], name: str, *, default: str | None = None) -> str:
    """A string argument, or a `ToolError` the model can act on."""
    value = arguments.get(name, default)
    if value is None:
        raise ToolError(f"missing required argument '{name}'")
    if not isinstance(value, str):
        raise ToolError(f"argument '{name}' must be a string")
    return value
