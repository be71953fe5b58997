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
import itertools
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


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


# How deep a caller's JSON may nest: far more than metadata or a schema needs, and well inside
# what orjson (254) and pydantic's serializer write.
MAX_DEPTH = 32


def writable(value: T) -> T:
    """`value` if it can be written back as JSON; otherwise ValueError, saying why
    (`unwritable`): a validator for what a caller gives."""
    problem = unwritable(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def unwritable(value: object, levels: int = MAX_DEPTH) -> str | None:
    """Why a caller's `value` could be stored but not written back as JSON, or None: nested past
    `levels` (pydantic's serializer refused metadata 300 levels deep, and every answer showing
    it was a 500), or holding half of a surrogate pair, which a JSON body may name (`"\\ud800"`)
    and no UTF-8 text can hold."""
    if isinstance(value, str):
        return None if _utf8(value) else "holds half of a surrogate pair (\\ud800-\\udfff)"
    if isinstance(value, dict):
        children: Iterable[object] = itertools.chain(value.keys(), value.values())
    elif isinstance(value, list):
        children = value
    else:
        return None
    if levels == 0:
        return f"nests deeper than {MAX_DEPTH} levels"
    return next(filter(None, (unwritable(child, levels - 1) for child in children)), None)


def _utf8(text: str) -> bool:
    """Whether `text` has a UTF-8 form (an ASCII string, known at once, always has)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
