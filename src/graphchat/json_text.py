"""JSON text for storage and the wire: orjson, and the standard library for what orjson refuses.

orjson encodes integers of at most 64 bits. A request body parsed by the standard library may
hold larger ones (a thread's metadata, a tool call's arguments, a response format's schema), and
encoding them must not fail the request: a fuzzed `/chat` on a thread whose metadata held one
answered 500 on PostgreSQL. The standard library then writes what orjson writes natively as
orjson does (a new thread's messages on PostgreSQL are dataclasses). The same body may hold a
lone surrogate (`"\\ud800"`), which has no UTF-8 form: `UnicodeEncodeError`, as for any such
text, which the store refuses as invalid text.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
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
            value,
            default=_as_orjson_writes(default),
            sort_keys=sort_keys,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return text.encode()


def _as_orjson_writes(default: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """The standard library's `default` for what orjson writes itself: dataclasses (a turn's
    messages), datetimes, enums and UUIDs, as orjson writes them; then `default`'s."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        if isinstance(value, datetime.datetime | datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, uuid.UUID):
            return str(value)
        if default is not None:
            return default(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    return convert


def dumps_text(
    value: object, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None
) -> str:
    """As `dumps`, as text."""
    return dumps(value, sort_keys=sort_keys, default=default).decode()
