"""A turn's window in LangChain's form: converted once per record, the same as converted anew."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from graphchat.api.langgraph.shapes import langchain_messages, window_langchain_messages
from graphchat.store.records import Message

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _window() -> list[Message]:
    thread = str(uuid.uuid4())  # ids of their own: the kept forms are the process's
    return [
        Message(
            id=f"{thread}-{seq}",
            thread_id=thread,
            seq=seq,
            role="user" if seq % 2 else "assistant",
            content=f"message {seq}",
            created_at=NOW,
            model=None if seq % 2 else "m",
        )
        for seq in range(1, 5)
    ]


def test_a_window_s_records_are_converted_once_and_as_langchain_messages_converts_them() -> None:
    window = _window()

    first = window_langchain_messages(window)
    again = window_langchain_messages(window)

    assert first == langchain_messages(window)
    assert all(a is b for a, b in zip(again, first, strict=True))  # the kept forms


def test_a_record_read_again_is_converted_anew() -> None:
    window = _window()
    first = window_langchain_messages(window)

    read_again = window_langchain_messages([replace(message) for message in window])

    assert read_again == first
    assert not any(a is b for a, b in zip(read_again, first, strict=True))
