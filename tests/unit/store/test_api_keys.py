"""The API keys repository: create, find by hash, list per owner, revoke (kept, not deleted),
and the rate-limited last-use stamp."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graphchat.errors import NotFound
from graphchat.store import Store


async def test_a_created_key_is_found_by_its_hash(store: Store) -> None:
    key = await store.api_keys.create(owner="alice", name="laptop", prefix="gc_aaaa", key_hash="h1")

    found = await store.api_keys.find_by_hash("h1")

    assert found is not None
    assert (found.id, found.owner, found.name, found.prefix) == (
        key.id,
        "alice",
        "laptop",
        "gc_aaaa",
    )
    assert found.active
    assert await store.api_keys.find_by_hash("unknown") is None


async def test_list_keys_by_owner_oldest_first(store: Store) -> None:
    for owner, prefix in [("alice", "gc_a1"), ("bob", "gc_b1"), ("alice", "gc_a2")]:
        await store.api_keys.create(owner=owner, name="k", prefix=prefix, key_hash=prefix)

    assert [k.prefix for k in await store.api_keys.list_keys(owner="alice")] == ["gc_a1", "gc_a2"]
    assert len(await store.api_keys.list_keys()) == 3


async def test_a_revoked_key_is_kept_and_inactive(store: Store) -> None:
    key = await store.api_keys.create(owner="alice", name="k", prefix="gc_a1", key_hash="h1")

    revoked = await store.api_keys.revoke("gc_a1")
    again = await store.api_keys.revoke(key.id)

    assert not revoked.active
    assert again.revoked_at == revoked.revoked_at  # revoking twice keeps the first time
    found = await store.api_keys.find_by_hash("h1")
    assert found is not None and not found.active
    assert [k.id for k in await store.api_keys.list_keys(owner="alice")] == [key.id]


async def test_revoking_an_unknown_or_ambiguous_prefix_is_not_found(store: Store) -> None:
    await store.api_keys.create(owner="alice", name="k", prefix="gc_same", key_hash="h1")
    await store.api_keys.create(owner="bob", name="k", prefix="gc_same", key_hash="h2")

    with pytest.raises(NotFound, match="no key"):
        await store.api_keys.revoke("gc_none")
    with pytest.raises(NotFound, match="several keys"):
        await store.api_keys.revoke("gc_same")


async def test_touch_records_a_use_at_most_once_a_minute(store: Store) -> None:
    key = await store.api_keys.create(owner="alice", name="k", prefix="gc_a1", key_hash="h1")
    first = key.created_at + timedelta(seconds=5)

    await store.api_keys.touch(key.id, first)
    await store.api_keys.touch(key.id, first + timedelta(seconds=30))
    after_30s = await store.api_keys.find_by_hash("h1")
    await store.api_keys.touch(key.id, first + timedelta(minutes=2))
    after_2m = await store.api_keys.find_by_hash("h1")

    assert after_30s is not None and after_30s.last_used_at == first
    assert after_2m is not None and after_2m.last_used_at == first + timedelta(minutes=2)
