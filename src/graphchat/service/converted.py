"""Stored message records converted once into another form, kept while they are in use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from graphchat.store.records import Message

F = TypeVar("F")

RECORDS_KEPT = 25_600  # the windows store/window_cache.py keeps hold about this many at most
TEXT_KEPT = 16 * 1024 * 1024  # characters, as store/window_cache.py (mostly the same strings)


class ConvertedMessages(Generic[F]):
    """Each message record's form, converted once by `convert`.

    A thread's next turn reads the same message records again (the window kept by
    store/window_cache.py), so only its new messages are converted. Stored messages are never
    changed, so a record read again from the database (a state, a history page) is equal to the
    one kept and takes its form: comparing is ~0.5 µs, converting 5-10. One that differs under
    the same id (a deleted thread's messages imported again, say) is converted anew. A form is
    shared by every caller, so none may change it. The oldest go first, past either bound.
    """

    def __init__(
        self, convert: Callable[[Message], F], size: int = RECORDS_KEPT, text: int = TEXT_KEPT
    ) -> None:
        self._convert = convert
        self._size = size
        self._text_kept = text
        self._text = 0
        self._forms: dict[str, tuple[Message, F]] = {}

    def of(self, message: Message) -> F:
        """`message`'s form."""
        kept = self._forms.get(message.id)
        if kept is not None:
            if kept[0] is message:
                return kept[1]
            if kept[0] == message:
                # The record read last is the one its reader passes again (a history page's
                # states share their messages): found by identity from now on.
                self._forms[message.id] = (message, kept[1])
                return kept[1]
        form = self._convert(message)
        self._keep(message, form)
        return form

    def _keep(self, message: Message, form: F) -> None:
        replaced = self._forms.pop(message.id, None)
        if replaced is not None:
            self._text -= len(replaced[0].content)
        self._forms[message.id] = (message, form)
        self._text += len(message.content)
        while len(self._forms) > self._size or self._text > self._text_kept:
            oldest = self._forms.pop(next(iter(self._forms)))
            self._text -= len(oldest[0].content)
