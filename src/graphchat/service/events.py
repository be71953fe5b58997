"""The events of a run, in the order clients see them; the API renders them per stream mode.

metadata  {run_id, thread_id, model}                     always first
token     {message_id, text}                             a piece of assistant text
message   {…stored message…}                             a message this run stored
end       {run_id, status, finish_reason, usage}         always last on success/cancel
error     {error: {code, message}}                       last when the run failed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

EventName = Literal["metadata", "token", "message", "end", "error"]
FINAL_EVENTS: Final = frozenset({"end", "error"})


@dataclass(frozen=True, slots=True)
class RunEvent:
    seq: int
    event: EventName
    data: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.event in FINAL_EVENTS
