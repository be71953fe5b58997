"""`command` on a LangGraph run: resuming a pause with LangChain's human-in-the-loop decisions.

agent-chat-ui sends `{"input": {}, "command": {"resume": {"decisions": [...]}}}`; the decisions
go to the paused run through `ChatService`, like the native `…/resume`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphchat.agent import Decision
from graphchat.api.langgraph.schemas import CommandIn, RunCreate
from graphchat.errors import ValidationFailed
from graphchat.service.approvals import decision_from_hitl

_HITL_SHAPE = (
    "`command.resume` is LangChain's HITL response: {decisions: [{type: approve} | "
    "{type: edit, edited_action: {name, args}} | {type: reject, message}]}, one per pending call"
)


def _refuse(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(
        message,
        details=[{"loc": ["body", "command", field], "msg": message, "type": "value_error"}],
    )


def checked_command(body: RunCreate) -> CommandIn:
    """The run's command, if it is one graphchat carries out: a `resume` and nothing else."""
    command = body.command
    if command is None:
        raise _refuse(_HITL_SHAPE, "resume")
    for field in ("goto", "update"):
        if getattr(command, field) is not None:
            raise _refuse(f"`command.{field}` is not supported: resume with `decisions`", field)
    if command.resume is None:
        raise _refuse(_HITL_SHAPE, "resume")
    if body.input is not None and body.input.messages:
        raise _refuse("send either `input.messages` or `command`, not both", "resume")
    return command


def resume_decisions(command: CommandIn, interrupt_id: str) -> tuple[Decision, ...]:
    """The decisions `command.resume` gives, directly or keyed by the pause's interrupt id."""
    resume: Any = command.resume
    if isinstance(resume, Mapping) and interrupt_id in resume:
        resume = resume[interrupt_id]
    decisions = resume.get("decisions") if isinstance(resume, Mapping) else None
    if not isinstance(decisions, list) or not all(isinstance(d, Mapping) for d in decisions):
        raise _refuse(_HITL_SHAPE, "resume")
    return tuple(decision_from_hitl(decision) for decision in decisions)
