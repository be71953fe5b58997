"""Authentication, rate limits, proxies and browser origins, with the parsers their values need.

The parsers live here, not in `graphchat.security`, so that settings import nothing of graphchat.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat, field_validator, model_validator

from graphchat.settings.base import CsvList, Group

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MIN_STATIC_SECRET_CHARS = 20


def parse_networks(entries: Sequence[str]) -> list[Network]:
    """`10.0.0.1`, `10.0.0.0/8`, `::1`… as networks; ValueError names a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or network") from exc
    return networks


def parse_static_keys(entries: Sequence[str]) -> list[tuple[str, str]]:
    """`owner:secret` entries as (owner, secret) pairs; ValueError names a malformed entry."""
    pairs = []
    for number, entry in enumerate(entries, start=1):
        owner, sep, secret = entry.partition(":")
        if not sep or not owner.strip() or not secret:
            raise ValueError(f"entry {number} is not of the form owner:secret")
        pairs.append((owner.strip(), secret))
    return pairs


class SecuritySettings(Group):
    title: ClassVar[str] = "Security"

    auth: Literal["off", "on"] = Field(
        "off",
        description="`on`: every route but `/health`, `/ready` and the UI shell needs an API key "
        "(`Authorization: Bearer …` or `X-API-Key`).",
    )
    api_keys: CsvList = Field(
        default_factory=list,
        description="Static keys, `owner:secret,…` (secrets of 20+ characters), for deployments "
        "without `graphchat keys create`. Requires `GRAPHCHAT_AUTH=on`.",
    )
    rate_limit: str = Field(
        "30/minute",
        description="Requests allowed per key (per client address without auth); empty: off.",
    )
    rate_limit_scope: Literal["post", "all"] = Field(
        "post", description="`post`: only POST requests count; `all`: every request does."
    )
    redis_url: str = Field(
        "", description="Redis URL (`redis://host:6379/0`): rate-limit counters shared by replicas."
    )
    redis_timeout_seconds: PositiveFloat = Field(
        0.5,
        description=(
            "Seconds a rate-limit check waits for Redis (to connect, then to answer). A check"
            " that fails lets the request through, and the next few seconds' requests are let"
            " through without asking Redis."
        ),
    )
    trusted_proxies: CsvList = Field(
        default_factory=list,
        description="Proxies (IPs or CIDRs) whose `X-Forwarded-For` names the client address.",
    )
    cors_origins: CsvList = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (e.g. `https://chat.example`).",
    )

    @field_validator("api_keys")
    @classmethod
    def _check_api_keys(cls, value: list[str]) -> list[str]:
        for number, (_, secret) in enumerate(parse_static_keys(value), start=1):
            if len(secret) < MIN_STATIC_SECRET_CHARS:
                raise ValueError(
                    f"entry {number}: secret shorter than {MIN_STATIC_SECRET_CHARS} characters"
                )
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value:
            from limits import parse  # imported here: only a configured limit needs the library

            try:
                parse(value)
            except ValueError:
                raise ValueError("must read like 30/minute, 5/second or 1000/hour") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "redis+unix://")):
            raise ValueError("must start with redis://, rediss:// or redis+unix://")
        return value

    @model_validator(mode="after")
    def _check_auth_combination(self) -> SecuritySettings:
        # Keys without auth look like protection but are none: refuse rather than mislead.
        if self.api_keys and self.auth == "off":
            raise ValueError("GRAPHCHAT_API_KEYS is set but GRAPHCHAT_AUTH=off: set it to on")
        return self

    def static_keys(self) -> list[tuple[str, str]]:
        """`GRAPHCHAT_API_KEYS` as (owner, secret) pairs."""
        return parse_static_keys(self.api_keys)

    def proxy_networks(self) -> list[Network]:
        """`GRAPHCHAT_TRUSTED_PROXIES` as networks."""
        return parse_networks(self.trusted_proxies)
