"""Stored messages in LangChain's form, converted once per record; a state written as its model."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from graphchat.api.json_text_response import JsonText
from graphchat.api.langgraph.schemas import ThreadStateOut
from graphchat.api.langgraph.shapes import langchain_message, langchain_messages, thread_state
from graphchat.service.payloads import message_payload
from graphchat.service.thread_state import State
from graphchat.store.records import Message, Run, RunStatus

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
            completion_tokens=None if seq % 2 else 7,
        )
        for seq in range(1, 5)
    ]


def test_records_are_converted_once_and_as_each_converts_alone() -> None:
    window = _window()

    first = langchain_messages(window)
    again = langchain_messages(window)

    assert first == [langchain_message(message_payload(message)) for message in window]
    assert all(a is b for a, b in zip(again, first, strict=True))  # the kept forms


def test_records_read_again_take_the_kept_forms_and_a_changed_one_is_converted_anew() -> None:
    window = _window()
    first = langchain_messages(window)

    read_again = langchain_messages([replace(message) for message in window])
    changed = langchain_messages([replace(window[0], content="edited"), *window[1:]])

    assert all(a is b for a, b in zip(read_again, first, strict=True))
    assert changed[0]["content"] == "edited" and first[0]["content"] == "message 1"
    assert all(a is b for a, b in zip(changed[1:], first[1:], strict=True))


def _paused_run(thread_id: str) -> Run:
    call = {"id": "call-1", "name": "lookup", "arguments": {"q": "x", "n": 2**70}}
    return Run(
        id=str(uuid.uuid4()),
        thread_id=thread_id,
        owner="o",
        model="m",
        params={},
        status=RunStatus.REQUIRES_ACTION,
        created_at=NOW,
        pending={"message_id": "m-1", "calls": [call]},
    )


def test_a_state_is_written_as_its_model_writes_it() -> None:
    window = _window()
    thread_id = window[0].thread_id
    states = [
        (State(window, 4, 3, "loop", 2, NOW), _paused_run(thread_id)),  # an integer past 64 bits
        (State(window[:1], 1, 0, "input", 0, NOW), None),
        (State([], None, None, "loop", -1, None), None),
    ]
    for state, paused in states:
        written = JsonText(thread_state(thread_id, state, paused)).body

        as_model = ThreadStateOut.model_validate_json(written)

        assert json.loads(written) == json.loads(as_model.model_dump_json())
        assert as_model.next == (["tools"] if paused else state.next)
        assert len(as_model.values["messages"]) == len(state.messages)
