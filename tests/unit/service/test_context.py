"""The context window keeps the newest messages that fit and never starts with a tool result."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from graphchat.service.context import MessageForms, build_context
from graphchat.store.records import Message

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _message(seq: int, role: str, content: str, status: str = "complete") -> Message:
    return Message(
        id=str(seq),
        thread_id="t",
        seq=seq,
        role=role,
        content=content,
        created_at=NOW,
        status=status,
    )


def test_keeps_the_newest_messages_within_the_budget() -> None:
    history = [_message(i, "user" if i % 2 else "assistant", "x" * 400) for i in range(1, 11)]

    window = build_context(history, "sys", token_budget=330)

    assert window[0].role == "system"
    assert len(window) == 1 + 3  # each message costs ~104 estimated tokens
    assert [m.content for m in window[1:]] == ["x" * 400] * 3


def test_always_keeps_the_newest_message_even_when_it_is_too_big() -> None:
    window = build_context([_message(1, "user", "y" * 100_000)], "", token_budget=100)

    assert [m.content for m in window] == ["y" * 100_000]


def test_drops_a_leading_tool_result_whose_call_fell_out() -> None:
    history = [
        _message(1, "assistant", "calling"),
        _message(2, "tool", "42"),
        _message(3, "user", "thanks"),
    ]

    window = build_context(history, "", token_budget=9)

    assert [m.role for m in window] == ["user"]


def test_skips_failed_replies_that_said_nothing() -> None:
    history = [
        _message(1, "user", "q"),
        _message(2, "assistant", "", status="error"),
        _message(3, "user", "q again"),
    ]

    window = build_context(history, "", token_budget=1000)

    assert [m.content for m in window] == ["q", "q again"]


def test_a_message_record_is_converted_once_also_when_read_again() -> None:
    forms = MessageForms()
    history = [_message(1, "user", "hello"), _message(2, "assistant", "hi")]
    first = build_context(history, "", token_budget=1000, forms=forms)

    again = build_context(history, "", token_budget=1000, forms=forms)
    read_again = build_context([replace(m) for m in history], "", token_budget=1000, forms=forms)

    assert again == first == build_context(history, "", token_budget=1000)
    assert all(a is b for a, b in zip(again, first, strict=True))  # the kept forms
    assert all(a is b for a, b in zip(read_again, first, strict=True))  # equal records


def test_a_record_that_differs_under_a_kept_id_is_converted_anew() -> None:
    forms = MessageForms()
    kept = _message(1, "user", "hello")
    first = forms.of(kept)

    changed = forms.of(replace(kept, content="hello again"))

    assert first is not None and changed is not None
    assert changed[0].content == "hello again" and first[0].content == "hello"


def test_forms_are_bounded_and_unusable_messages_stay_out() -> None:
    forms = MessageForms(size=2)
    messages = [_message(1, "user", "a"), _message(2, "assistant", "", status="error")]
    kept = forms.of(messages[0])

    assert forms.of(messages[1]) is None  # a failed reply with no text
    forms.of(_message(3, "user", "c"))  # the third pushes out the oldest
    assert forms.of(messages[0]) is not kept
    assert forms.of(messages[0]) == kept


def test_forms_hold_no_more_text_than_their_budget() -> None:
    forms = MessageForms(text=10)
    long_ago = _message(1, "user", "x" * 6)
    kept = forms.of(long_ago)
    forms.of(_message(2, "user", "y" * 6))  # 12 characters: the oldest goes

    assert forms.of(long_ago) is not kept
    assert forms.of(_message(3, "user", "z" * 11)) is not None  # alone over it: given, not kept
