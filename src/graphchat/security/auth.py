"""Resolve a presented API key to the owner it acts for.

Generated keys are found by the SHA-256 of the presented token (a unique index, so no secret is
compared in Python); static keys from settings are compared by hash with `hmac.compare_digest`
against every configured entry, so timing reveals neither which entry matched nor how much of it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from graphchat.errors import Unauthorized
from graphchat.security.keys import hash_key, key_prefix
from graphchat.store.api_keys import ApiKey

_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for; `key_id` names the credential (rate limits count per key)."""

    owner: str
    key_id: str


class KeyLookup(Protocol):
    async def find_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def touch(self, key_id: str, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class _StaticKey:
    owner: str
    key_hash: str


class Authenticator:
    """Turns the token of a request into a `Principal`, or raises `Unauthorized`."""

    def __init__(self, static_keys: list[tuple[str, str]], keys: KeyLookup | None = None) -> None:
        self._static = [_StaticKey(owner, hash_key(secret)) for owner, secret in static_keys]
        self._keys = keys
        self._touched: dict[str, datetime] = {}

    def use_keys(self, keys: KeyLookup) -> None:
        """Look generated keys up in `keys` (the store opens after the app is built)."""
        self._keys = keys

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an API key is required (Authorization: Bearer … or X-API-Key)")
        digest = hash_key(token)
        if key_prefix(token) is not None and self._keys is not None:
            key = await self._keys.find_by_hash(digest)
            if key is not None and key.active:
                await self._touch(key.id)
                return Principal(owner=key.owner, key_id=key.id)
        static = self._match_static(digest)
        if static is not None:
            return Principal(owner=static.owner, key_id=f"static-{static.key_hash[:16]}")
        raise Unauthorized("the API key is not valid (unknown or revoked)", code="invalid_api_key")

    async def _touch(self, key_id: str) -> None:
        # One write per key and minute, not one per request: `last_used_at` is only a hint.
        now = datetime.now(UTC)
        last = self._touched.get(key_id)
        if last is None or now - last >= _TOUCH_EVERY:
            self._touched[key_id] = now
            if self._keys is not None:
                await self._keys.touch(key_id, now)

    def _match_static(self, digest: str) -> _StaticKey | None:
        found = None
        for entry in self._static:  # no early exit: the time spent does not depend on the match
            if hmac.compare_digest(entry.key_hash, digest):
                found = entry
        return found
