"""Human approval of tool calls: which calls need it, and a person's decision on each one.

The decision shapes follow LangChain's human-in-the-loop middleware (approve, edit, reject), so
protocol views can pass their `decisions` through unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from graphchat.llm.base import ToolCall

DecisionType = Literal["approve", "edit", "reject"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A person's answer to one pending call: run it, run it with other arguments, or refuse."""

    type: DecisionType
    args: dict[str, Any] = field(default_factory=dict)  # `edit` only
    message: str = ""  # `reject` only: what the model is told


def approval_required(patterns: Iterable[str], offered: Iterable[str]) -> frozenset[str]:
    """The offered tool names matching any pattern (`calculator`, `github__*`, `*`)."""
    chosen = tuple(patterns)
    return frozenset(name for name in offered if any(fnmatchcase(name, p) for p in chosen))


def calls_to_review(calls: Iterable[ToolCall], required: Collection[str]) -> tuple[ToolCall, ...]:
    """The calls that must wait for a person, in the order the model made them."""
    return tuple(call for call in calls if call.name in required)


def rejection_text(decision: Decision) -> str:
    reason = decision.message.strip()
    return "Error: the user rejected this tool call" + (f": {reason}" if reason else "")


def align_decisions(
    calls: Sequence[ToolCall], required: Collection[str], decisions: Sequence[Decision]
) -> list[Decision | None]:
    """One entry per call: the next decision for a call that waited, None for the others."""
    remaining = iter(decisions)
    return [next(remaining, None) if call.name in required else None for call in calls]
