"""The items of a JSON array read one at a time from a byte stream, so an archive of any size
never sits in memory whole: a top-level array, or the `threads` array of graphchat's export."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# graphchat's export puts its small header first and `threads` last, so the array's start can be
# found without parsing the header.
_THREADS = re.compile(r'^\s*\{.*?"threads"\s*:\s*\[', re.DOTALL)
_HEADER_MAX = 64 * 1024


class MalformedArchive(ValueError):
    """The archive is not JSON of a known shape; `index` counts the items read before."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


class _Buffer:
    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8-sig")()  # chars span chunks
        self.text = ""
        self.done = False

    async def more(self) -> bool:
        """Read another chunk into `text` (False at the end of the stream)."""
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self.done = True
            self.text += self._utf8.decode(b"", final=True)
            return False
        self.text += self._utf8.decode(chunk)
        return True


async def _start(buffer: _Buffer) -> int:
    """The position just after the opening `[` of the item array."""
    while True:
        stripped = buffer.text.lstrip()
        if stripped[:1] == "[":
            return len(buffer.text) - len(stripped) + 1
        found = _THREADS.match(buffer.text)
        if found:
            return found.end()
        if len(buffer.text) > _HEADER_MAX or not await buffer.more():
            raise MalformedArchive("not a JSON array nor a graphchat export", 0)


async def json_array_items(chunks: AsyncIterable[bytes]) -> AsyncIterator[Any]:
    """Each item of the archive's array, decoded; `MalformedArchive` once JSON breaks."""
    buffer = _Buffer(chunks)
    try:
        position = await _start(buffer)
        index = 0
        while True:
            position = _WHITESPACE.match(buffer.text, position).end()  # type: ignore[union-attr]
            if position >= len(buffer.text):
                if not await buffer.more():
                    raise MalformedArchive("the archive ends before its array closes", index)
                continue
            head = buffer.text[position]
            if head == "]":
                return
            if head == "," and index > 0:
                position += 1
                continue
            item, position = await _decode(buffer, position, index)
            yield item
            buffer.text, position = buffer.text[position:], 0
            index += 1
    except UnicodeDecodeError as exc:
        raise MalformedArchive("the archive is not UTF-8", 0) from exc


async def _decode(buffer: _Buffer, position: int, index: int) -> tuple[Any, int]:
    """One item from `position`, reading more until it is complete (size doubling each try)."""
    while True:
        try:
            return _DECODER.raw_decode(buffer.text, position)
        except json.JSONDecodeError as exc:
            wanted = 2 * len(buffer.text)
            while len(buffer.text) < wanted and await buffer.more():
                pass
            if buffer.done and len(buffer.text) < wanted:
                try:
                    return _DECODER.raw_decode(buffer.text, position)
                except json.JSONDecodeError:
                    raise MalformedArchive(
                        f"conversation {index}: invalid JSON ({exc.msg})", index
                    ) from exc
