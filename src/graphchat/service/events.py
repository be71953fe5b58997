"""The events of a run, in the order clients see them; the API renders them per stream mode.

metadata  {run_id, thread_id, model}                     always first
token     {message_id, text}                             a piece of assistant text
message   {…stored message…}                             a message this run stored
end       {run_id, status, finish_reason, usage}         always last on success/cancel
error     {error: {code, message}}                       last when the run failed
"""

from __future__ import annotations

from graphchat.store.records import FINAL_EVENTS, EventName, RunEvent

__all__ = ["FINAL_EVENTS", "EventName", "RunEvent"]
