"""JSON text: orjson's output, and the standard library's where orjson refuses a value."""

from __future__ import annotations

import json

from graphchat.json_text import dumps, dumps_text


def test_integers_beyond_64_bits_are_written_exactly() -> None:
    value = {"b": 10**30, "a": [-(2**70), "é"]}

    text = dumps_text(value, sort_keys=True)

    assert json.loads(text) == value
    assert text == '{"a":[-1180591620717411303424,"é"],"b":1000000000000000000000000000000}'


def test_other_values_are_orjson_s_compact_form() -> None:
    assert dumps({"b": 1, "a": [1.5, None, True]}, sort_keys=True) == b'{"a":[1.5,null,true],"b":1}'
    assert dumps_text(object, default=lambda _: "x") == '"x"'
