"""Request rate limits per caller, counted in memory or in Redis (shared by every replica).

A sliding window counter (the `limits` library's strategy): this window's count plus the previous
window's, weighted by how much of it the sliding window still covers, so a burst at a window edge
cannot double the allowance. The library's exact moving window kept a timestamp per request and,
in memory, expired them in a worker thread after every hit: ~0.4 ms of a turn (bench/analysis.md,
round 34). If Redis fails the request is let through and a warning logged: a limiter outage should
not take the API down with it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

log = structlog.get_logger(__name__)

_NAMESPACE = "graphchat"


def parse_rate(value: str) -> RateLimitItem:
    """`30/minute`, `5 per second`… as a limit; ValueError when the text is not one."""
    return parse(value)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of counting one request, with what the `RateLimit-*` headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


def _storage(redis_url: str) -> Storage:
    if not redis_url:
        return MemoryStorage()
    # `limits` picks its async Redis client by the `async+` scheme prefix.
    return RedisStorage(f"async+{redis_url}", wrap_exceptions=True)


class RateLimiter:
    """Counts requests per identity against one limit."""

    def __init__(self, rate: str, redis_url: str = "") -> None:
        self._item = parse_rate(rate)
        self._storage = _storage(redis_url)
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)

    async def hit(self, identity: str) -> RateDecision:
        """Count a request by `identity`; `allowed` is False once the limit is reached."""
        try:
            allowed = await self._strategy.hit(self._item, _NAMESPACE, identity)
            stats = await self._strategy.get_window_stats(self._item, _NAMESPACE, identity)
        except StorageError as exc:
            log.warning("rate_limit_storage_failed", error=str(exc.storage_error))
            return RateDecision(True, self._item.amount, self._item.amount, 0)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return RateDecision(allowed, self._item.amount, max(0, stats.remaining), reset)
