"""JSON text: orjson's output, and the standard library's where orjson refuses a value."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid

import orjson
import pytest

from graphchat.json_text import MAX_DEPTH, dumps, dumps_text, unwritable, writable


def test_integers_beyond_64_bits_are_written_exactly() -> None:
    value = {"b": 10**30, "a": [-(2**70), "é"]}

    text = dumps_text(value, sort_keys=True)

    assert json.loads(text) == value
    assert text == '{"a":[-1180591620717411303424,"é"],"b":1000000000000000000000000000000}'


def test_other_values_are_orjson_s_compact_form() -> None:
    assert dumps({"b": 1, "a": [1.5, None, True]}, sort_keys=True) == b'{"a":[1.5,null,true],"b":1}'
    assert dumps_text(object, default=lambda _: "x") == '"x"'


class _Role(enum.Enum):
    USER = "user"


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    id: uuid.UUID
    role: _Role
    at: datetime.datetime
    tokens: int


def test_what_orjson_writes_itself_is_written_the_same_by_the_fallback() -> None:
    at = datetime.datetime(2026, 12, 5, 10, 11, 30, 361500, tzinfo=datetime.UTC)
    record = _Record(uuid.UUID(int=7), _Role.USER, at, 3)
    big = _Record(uuid.UUID(int=7), _Role.USER, at, 10**30)  # orjson refuses it: the fallback

    assert json.loads(dumps([big])) == [{**json.loads(orjson.dumps(record)), "tokens": 10**30}]
    assert dumps([big]).replace(b"1" + b"0" * 30, b"3") == orjson.dumps([record])


def test_a_lone_surrogate_cannot_be_written() -> None:
    with pytest.raises(UnicodeEncodeError):
        dumps({"x": "a\ud800b"})


def test_what_could_not_be_written_back_is_named() -> None:
    def nested(levels: int) -> object:
        value: object = {}
        for _ in range(levels - 1):
            value = [value]
        return value

    assert unwritable(nested(MAX_DEPTH)) is None
    assert unwritable(nested(MAX_DEPTH + 1)) == f"nests deeper than {MAX_DEPTH} levels"
    assert unwritable({"a\udc00": 1}) == unwritable(["x", "\ud800"]) is not None
    assert unwritable({"city": "Zürich", "n": [1.5, None, 10**30]}) is None
    with pytest.raises(ValueError, match="surrogate"):
        writable({"x": "\ud800"})
    assert writable(value := {"x": [1]}) is value
