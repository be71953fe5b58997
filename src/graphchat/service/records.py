"""The records and values the service layer trades in: the store's records, the agent's and the
model layer's values, re-exported so that `api/` imports the service layer alone."""

from __future__ import annotations

from graphchat.agent import Decision
from graphchat.llm.base import (
    ChatMessage,
    ResponseFormat,
    SamplingParams,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from graphchat.store.records import (
    Message,
    MessageStatus,
    MessageWindow,
    NewMessage,
    Page,
    Run,
    RunStatus,
    Thread,
    TokenUsage,
)
from graphchat.store.thread_search import ThreadQuery

__all__ = [
    "ChatMessage",
    "Decision",
    "Message",
    "MessageStatus",
    "MessageWindow",
    "NewMessage",
    "Page",
    "ResponseFormat",
    "Run",
    "RunStatus",
    "SamplingParams",
    "Thread",
    "ThreadQuery",
    "TokenUsage",
    "ToolCall",
    "ToolChoice",
    "ToolSpec",
]
