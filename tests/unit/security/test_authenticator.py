"""Resolving tokens to owners: generated keys by hash, static keys, revocation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from graphchat.errors import Unauthorized
from graphchat.security.auth import Authenticator
from graphchat.security.keys import generate_key
from graphchat.store.api_keys import ApiKey

STATIC_SECRET = "static-secret-long-enough"


class MemoryKeys:
    """A `KeyLookup` over a dict, recording touches."""

    def __init__(self) -> None:
        self.by_hash: dict[str, ApiKey] = {}
        self.touched: list[str] = []

    def add(self, key_hash: str, owner: str) -> ApiKey:
        key = ApiKey(f"id-{owner}", owner, "test", "abcd1234", datetime.now(UTC), None, None)
        self.by_hash[key_hash] = key
        return key

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        return self.by_hash.get(key_hash)

    async def touch(self, key_id: str, now: datetime) -> None:
        self.touched.append(key_id)


async def test_a_generated_key_acts_for_its_owner_and_is_touched_once_a_minute() -> None:
    keys, new = MemoryKeys(), generate_key()
    keys.add(new.key_hash, "alice")
    auth = Authenticator([], keys)

    first = await auth.authenticate(new.token)
    await auth.authenticate(new.token)

    assert first.owner == "alice" and first.key_id == "id-alice"
    assert keys.touched == ["id-alice"]


async def test_a_static_key_acts_for_its_owner() -> None:
    auth = Authenticator(
        [("bob", "other-secret-long-enough"), ("carol", STATIC_SECRET)], MemoryKeys()
    )

    principal = await auth.authenticate(STATIC_SECRET)

    assert principal.owner == "carol"


@pytest.mark.parametrize("token", [None, "", "wrong-secret-of-some-length", generate_key().token])
async def test_missing_and_unknown_keys_are_unauthorized(token: str | None) -> None:
    with pytest.raises(Unauthorized):
        await Authenticator([("carol", STATIC_SECRET)], MemoryKeys()).authenticate(token)


async def test_a_revoked_key_is_unauthorized() -> None:
    keys, new = MemoryKeys(), generate_key()
    key = keys.add(new.key_hash, "alice")
    keys.by_hash[new.key_hash] = replace(key, revoked_at=datetime.now(UTC))

    with pytest.raises(Unauthorized):
        await Authenticator([], keys).authenticate(new.token)
