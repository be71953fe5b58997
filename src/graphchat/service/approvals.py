"""Paused runs: the small record a pause keeps, and a person's decisions matched to its calls.

A pause stores the pending calls and what resuming needs (tools, approval set, rounds used,
system prompt override), never the conversation: the resumed run rebuilds its context from the
message log like any turn. `hitl_request` and `decision_from_hitl` give LangChain's
human-in-the-loop shapes, for protocol views that speak them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from graphchat.agent import ApprovalRequest, Decision
from graphchat.errors import RunNotPaused, ValidationFailed
from graphchat.llm.base import ChatMessage, ResponseFormat, SamplingParams, ToolChoice, ToolSpec
from graphchat.store.records import Run, RunStatus

_DECISION_TYPES = ("approve", "edit", "reject")
_DESCRIPTION = "Tool execution requires approval"


@dataclass(frozen=True, slots=True)
class TurnSetup:
    """How a run executes: prompt, tools and approvals, from its request or from its pause."""

    system: str | None
    tools: tuple[str, ...]
    require_approval: frozenset[str]
    params: SamplingParams
    tool_rounds: int = 0
    decisions: tuple[Decision, ...] = ()
    # A caller-held conversation (the OpenAI API): its messages, its own tools, format choices.
    context: tuple[ChatMessage, ...] | None = None
    client_tools: tuple[ToolSpec, ...] | None = None
    tool_choice: ToolChoice = "auto"
    response_format: ResponseFormat | None = None


def pause_record(request: ApprovalRequest, message_id: str, setup: TurnSetup) -> dict[str, Any]:
    """What a paused run keeps: its pending calls and the setup to resume with."""
    return {
        "message_id": message_id,
        "calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in request.calls
        ],
        "tools": list(setup.tools),
        "require_approval": sorted(setup.require_approval),
        "tool_rounds": request.tool_rounds,
        "system": setup.system,
    }


def pending_of(run: Run) -> dict[str, Any] | None:
    """The public view of a paused run's pending calls (None when it waits for nothing)."""
    if run.status != RunStatus.REQUIRES_ACTION or not run.pending:
        return None
    return {
        "message_id": run.pending["message_id"],
        "calls": [
            {"id": call["id"], "name": call["name"], "args": call["arguments"]}
            for call in run.pending["calls"]
        ],
    }


def check_decisions(run: Run, decisions: Sequence[Decision]) -> None:
    """Refuse a resume of a run that is not paused (409) or a wrong number of decisions (422)."""
    if run.status != RunStatus.REQUIRES_ACTION or not run.pending:
        raise RunNotPaused(f"run '{run.id}' is {run.status.value}: it waits for no approval")
    expected = len(run.pending["calls"])
    if len(decisions) != expected:
        raise ValidationFailed(
            f"this run waits for {expected} decision(s), one per pending call in order; "
            f"got {len(decisions)}",
            details=[
                {
                    "loc": ["body", "decisions"],
                    "msg": f"expected {expected} decision(s)",
                    "type": "wrong_length",
                }
            ],
        )


def setup_after_pause(run: Run, decisions: Sequence[Decision]) -> TurnSetup:
    """The setup a paused run resumes with (it was checked by `check_decisions`)."""
    pending = run.pending or {}
    known = {field.name for field in fields(SamplingParams)}
    params: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in run.params.items()
        if key in known
    }
    return TurnSetup(
        system=pending.get("system"),
        tools=tuple(pending.get("tools", ())),
        require_approval=frozenset(pending.get("require_approval", ())),
        params=SamplingParams(**params),
        tool_rounds=int(pending.get("tool_rounds", 0)),
        decisions=tuple(decisions),
    )


def hitl_request(pending: Mapping[str, Any] | None) -> dict[str, Any]:
    """A pause (its `pending_of` view) as LangChain's `HITLRequest`, which agent-chat-ui's
    approval card renders: one action request per call, in order, each decision allowed."""
    calls = (pending or {}).get("calls", [])
    return {
        "action_requests": [
            {"name": call["name"], "args": call["args"], "description": _DESCRIPTION}
            for call in calls
        ],
        "review_configs": [
            {"action_name": name, "allowed_decisions": list(_DECISION_TYPES)}
            for name in dict.fromkeys(call["name"] for call in calls)
        ],
    }


def decision_from_hitl(value: Mapping[str, Any]) -> Decision:
    """A LangChain `HITLResponse` decision (`edited_action`) or a native one (`args`)."""
    kind = value.get("type")
    if kind == "approve":
        return Decision("approve")
    if kind == "reject":
        return Decision("reject", message=str(value.get("message") or ""))
    if kind == "edit":
        edited = value.get("edited_action")
        args = edited.get("args") if isinstance(edited, Mapping) else value.get("args")
        if isinstance(args, dict):
            return Decision("edit", args=args)
    raise ValidationFailed(
        "a decision is {type: approve} | {type: edit, args: {…}} | {type: reject, message}",
        details=[{"loc": ["body", "decisions"], "msg": "invalid decision", "type": "value_error"}],
    )
