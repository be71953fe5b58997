"""The records the service layer trades in: the store's, re-exported so `api/` never imports
`store/`."""

from __future__ import annotations

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
    "Message",
    "MessageStatus",
    "MessageWindow",
    "NewMessage",
    "Page",
    "Run",
    "RunStatus",
    "Thread",
    "ThreadQuery",
    "TokenUsage",
]
