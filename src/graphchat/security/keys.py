"""The API key format, its generation and its hashing.

A key reads `gc_<prefix>_<secret>`: the prefix (8 hex characters) is stored in clear so keys can
be listed and revoked by it; the secret carries 256 bits from `secrets`. Only SHA-256 of the
whole key is stored. A slow password hash (bcrypt, argon2) protects low-entropy secrets from
guessing after a database leak; a 256-bit random secret cannot be guessed at any hash speed, so
a fast hash loses nothing and keeps each authenticated request cheap.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "gc"
_PREFIX_BYTES = 4
_SECRET_BYTES = 32
_KEY_PATTERN = re.compile(r"^gc_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A new key: `token` is shown to its holder once, then only `key_hash` remains."""

    token: str
    prefix: str
    key_hash: str


def hash_key(token: str) -> str:
    """The stored form of a key (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_key() -> NewKey:
    """A new random key in the `gc_<prefix>_<secret>` format."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    token = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return NewKey(token=token, prefix=prefix, key_hash=hash_key(token))


def key_prefix(token: str) -> str | None:
    """The prefix of a well-formed generated key, None for anything else (e.g. static keys)."""
    match = _KEY_PATTERN.match(token)
    return match.group(1) if match else None
