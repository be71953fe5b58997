"""The embedded worker fits a conversation to its model's context window (`fit_to_context`),
counting with a stand-in tokenizer: one token per word."""

from __future__ import annotations

from typing import Any

import pytest

from graphchat.llm.embedded_worker import ContextOverflow, fit_to_context


def words(text: str) -> int:
    return len(text.split())


def message(role: str, size: int, tag: str = "") -> dict[str, Any]:
    return {"role": role, "content": " ".join([tag or role] * size)}


def test_a_conversation_that_fits_is_sent_whole() -> None:
    conversation = [message("system", 5), message("user", 50), message("assistant", 50)]
    assert fit_to_context(conversation, words, 2048, None) == conversation


def test_the_oldest_messages_go_first_and_the_system_prompt_stays() -> None:
    system = message("system", 20)
    turns = [message("user" if i % 2 == 0 else "assistant", 300, f"m{i}") for i in range(8)]

    fitted = fit_to_context([system, *turns], words, 2048, None)

    # 2048 - 512 for the reply - 48 for the template - 28 for the system prompt leaves 1460:
    # four messages of 308 tokens each.
    assert fitted == [system, *turns[-4:]]


def test_a_smaller_max_tokens_leaves_more_room_for_the_conversation() -> None:
    turns = [message("user", 300, f"m{i}") for i in range(8)]
    assert len(fit_to_context(turns, words, 2048, 64)) == 6
    assert len(fit_to_context(turns, words, 2048, 4096)) == 3  # the reply gets half at most


def test_a_newest_message_larger_than_the_window_is_refused_with_the_setting_named() -> None:
    conversation = [message("user", 10), message("user", 2000)]
    with pytest.raises(ContextOverflow, match="GRAPHCHAT_EMBEDDED_N_CTX") as raised:
        fit_to_context(conversation, words, 2048, None)
    assert isinstance(raised.value, ValueError)  # the worker answers it as an invalid request
