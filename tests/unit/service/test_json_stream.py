"""Reading an archive's items one by one from a byte stream cut at any point."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphchat.json_stream import MalformedArchive, json_array_items

ITEMS = [{"text": "héllo 🙂", "n": i, "nested": [{"a": "]"}, "},{"]} for i in range(5)]


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(data: bytes, size: int) -> list[Any]:
    return [item async for item in json_array_items(_chunks(data, size))]


@pytest.mark.parametrize("size", [1, 3, 7, 64, 1 << 16])
async def test_items_of_a_top_level_array_in_any_chunking(size: int) -> None:
    assert await _read(json.dumps(ITEMS).encode(), size) == ITEMS


@pytest.mark.parametrize("size", [1, 5, 1 << 16])
async def test_items_of_a_graphchat_export(size: int) -> None:
    document = {"format": "graphchat", "version": 1, "threads": ITEMS}
    assert await _read(b"\xef\xbb\xbf" + json.dumps(document, indent=2).encode(), size) == ITEMS


async def test_an_empty_array_has_no_items() -> None:
    assert await _read(b" [ ] ", 1) == []


async def test_a_break_reports_the_index_of_the_broken_item() -> None:
    data = json.dumps(ITEMS).encode()[:-20]
    found: list[Any] = []

    async def collect() -> None:
        async for item in json_array_items(_chunks(data, 4)):
            found.append(item)

    with pytest.raises(MalformedArchive) as raised:
        await collect()
    assert raised.value.index == len(found) == 4


async def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(MalformedArchive, match="UTF-8"):
        await _read(b'[{"a": "\xff"}]', 2)
