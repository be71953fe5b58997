"""The key format, hashing and the parsing of static keys."""

from __future__ import annotations

import pytest

from graphchat.security.keys import generate_key, hash_key, key_prefix
from graphchat.settings.security import parse_static_keys


def test_generated_keys_are_unique_and_carry_their_prefix() -> None:
    first, second = generate_key(), generate_key()

    assert first.token != second.token
    assert first.token.startswith(f"gc_{first.prefix}_")
    assert key_prefix(first.token) == first.prefix
    assert first.key_hash == hash_key(first.token)
    assert first.token not in first.key_hash


def test_only_well_formed_keys_have_a_prefix() -> None:
    token = generate_key().token

    assert key_prefix(token[:-1]) is None
    assert key_prefix("gc_zzzzzzzz_" + token.split("_", 2)[2]) is None
    assert key_prefix("a-static-secret-of-some-length") is None


def test_static_keys_split_on_the_first_colon() -> None:
    assert parse_static_keys(["alice:s:e:c:r:e:t", " bob :x"]) == [
        ("alice", "s:e:c:r:e:t"),
        ("bob", "x"),
    ]


@pytest.mark.parametrize("entry", ["no-colon", ":secret", "owner:"])
def test_malformed_static_keys_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="entry 1"):
        parse_static_keys([entry])
