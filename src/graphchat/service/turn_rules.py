"""The rules a turn follows, decided here rather than in the store: which model it uses and
what an untitled thread is called."""

from __future__ import annotations

from collections.abc import Sequence

from graphchat.store.records import NewMessage, TurnRules

TITLE_LENGTH = 80


def title_from(text: str) -> str:
    """A thread title from the start of its first message."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _title(current: str | None, messages: Sequence[NewMessage]) -> str | None:
    """An untitled thread takes its title from its first user message."""
    if current is not None:
        return current
    first_user = next((m.content for m in messages if m.role == "user" and m.content), None)
    return title_from(first_user) if first_user else None


def turn_rules(asked: str | None, fallback: str | None) -> TurnRules:
    """The run's model is the one asked for, else the thread's, else `fallback`."""
    return TurnRules(model=lambda thread_model: asked or thread_model or fallback, title=_title)
