"""`command` on a LangGraph run: resuming a pause with LangChain's human-in-the-loop decisions.

agent-chat-ui sends `{"input": {}, "command": {"resume": {"decisions": [...]}}}`; the decisions
go to the paused run through `ChatService`, like the native `…/resume`.
"""

from __future__ import annotations

from graphchat.api.langgraph.schemas import CommandIn, RunCreate
from graphchat.errors import ValidationFailed
from graphchat.service.approvals import decision_from_hitl
from graphchat.service.records import Decision


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(
        message,
        details=[{"loc": ["body", "command"], "msg": message, "type": "value_error"}],
    )


def checked_command(body: RunCreate) -> CommandIn:
    """The run's command, without input messages beside it."""
    if body.command is None:
        raise _refuse("a run without `command` needs `input.messages`")
    if body.input is not None and body.input.messages:
        raise _refuse("send either `input.messages` or `command`, not both")
    return body.command


def resume_decisions(command: CommandIn, interrupt_id: str) -> tuple[Decision, ...]:
    """The decisions `command.resume` gives, directly or keyed by the pause's interrupt id."""
    resume = command.resume
    if isinstance(resume, dict):
        if interrupt_id not in resume:
            raise _refuse(
                f"`command.resume` names no pending interrupt (this one is {interrupt_id})"
            )
        resume = resume[interrupt_id]
    return tuple(decision_from_hitl(decision.model_dump()) for decision in resume.decisions)
