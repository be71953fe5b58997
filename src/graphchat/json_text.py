"""JSON text for storage and the wire: orjson, and the standard library for what orjson refuses.

orjson encodes integers of at most 64 bits. A request body parsed by the standard library may
hold larger ones (a thread's metadata, a tool call's arguments, a response format's schema), and
encoding them must not fail the request: a fuzzed `/chat` on a thread whose metadata held one
answered 500 on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def dumps(
    value: object, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None
) -> bytes:
    """`value` as compact UTF-8 JSON (`default` converts what JSON has no type for)."""
    option = orjson.OPT_SORT_KEYS if sort_keys else None
    try:
        return orjson.dumps(value, default=default, option=option)
    except TypeError:
        text = json.dumps(
            value, default=default, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")
        )
        return text.encode()


def dumps_text(
    value: object, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None
) -> str:
    """As `dumps`, as text."""
    return dumps(value, sort_keys=sort_keys, default=default).decode()
