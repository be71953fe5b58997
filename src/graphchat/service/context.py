"""The context window: which stored messages the model sees for a turn."""

from __future__ import annotations

from collections.abc import Sequence

from graphchat.llm.base import ChatMessage
from graphchat.service.agent_messages import to_agent
from graphchat.service.converted import RECORDS_KEPT, TEXT_KEPT, ConvertedMessages
from graphchat.store.records import Message, MessageStatus

# Estimated tokens per character and per message (role markers, separators).
_CHARS_PER_TOKEN = 4
_TOKENS_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    return len(text) // _CHARS_PER_TOKEN + _TOKENS_PER_MESSAGE


def _usable(message: Message) -> bool:
    """Failed replies with no text are not worth sending back to the model."""
    return not (
        message.role == "assistant"
        and message.status != MessageStatus.COMPLETE
        and not message.content
    )


# A message as the window holds it: the model's form and its estimated tokens.
Form = tuple[ChatMessage, int]


def _form(message: Message) -> Form | None:
    """`message` as the model sees it, or None when it is not worth sending."""
    if not _usable(message):
        return None
    agent = to_agent(message)
    return agent, estimate_tokens(agent.content)


class MessageForms(ConvertedMessages[Form | None]):
    """Stored messages in the model's form, each record converted once: a window of 50
    messages was 50 conversions and estimates per turn."""

    def __init__(self, size: int = RECORDS_KEPT, text: int = TEXT_KEPT) -> None:
        super().__init__(_form, size, text)


def build_context(
    history: Sequence[Message],
    system_prompt: str,
    token_budget: int,
    forms: MessageForms | None = None,
) -> list[ChatMessage]:
    """System prompt + the newest stored history that fits the budget, oldest first."""
    convert = (forms or MessageForms()).of
    usable = [form for message in history if (form := convert(message)) is not None]
    return _fit(usable, system_prompt, token_budget)


def fit_context(
    messages: Sequence[ChatMessage], system_prompt: str, token_budget: int
) -> list[ChatMessage]:
    """System prompt + the newest `messages` that fit the budget, oldest first."""
    return _fit([(m, estimate_tokens(m.content)) for m in messages], system_prompt, token_budget)


def _fit(messages: Sequence[Form], system_prompt: str, token_budget: int) -> list[ChatMessage]:
    """The newest message is always kept; a leading tool result whose call was dropped is
    removed so the model never sees an answer to a question it cannot see."""
    budget = token_budget - (estimate_tokens(system_prompt) if system_prompt else 0)
    kept: list[ChatMessage] = []
    for message, cost in reversed(messages):
        if kept and cost > budget:
            break
        kept.append(message)
        budget -= cost
    kept.reverse()
    while kept and kept[0].role == "tool":
        kept.pop(0)
    if system_prompt:
        kept.insert(0, ChatMessage(role="system", content=system_prompt))
    return kept
