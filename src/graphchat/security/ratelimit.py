"""Request rate limits per caller, counted in memory or in Redis (shared by every replica).

A sliding window counter (the `limits` library's strategy): this window's count plus the previous
window's, weighted by how much of it the sliding window still covers, so a burst at a window edge
cannot double the allowance (it floors the weighted count: one request more just after an
edge, tests/unit/test_rate_windows.py). The library's exact moving window kept a timestamp per
request and, in memory, expired them in a worker thread after every hit: ~0.4 ms of a turn
(bench/analysis.md, round 34). If Redis fails or is slower than its timeout, the request is let
through and a warning logged, and for the next few seconds requests are let through without
asking Redis: a limiter outage (a Redis that hangs included) should not take the API down, nor
slow it, with it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

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


_FAIL_OPEN_SECONDS = 5.0  # after Redis failed, how long requests pass without asking it


def _storage(redis_url: str, timeout: float) -> Storage:
    if not redis_url:
        return MemoryStorage()
    # Imported here: coredis takes ~0.65 s to import, which start-up without Redis never pays.
    from coredis.retry import NoRetryPolicy

    # `limits` picks its async Redis client (coredis) by the `async+` scheme prefix. Without
    # timeouts a Redis that accepts and never answers held every request; with coredis's
    # retries a check that timed out waited five timeouts.
    options: dict[str, Any] = {
        "connect_timeout": timeout,
        "stream_timeout": timeout,
        "retry_policy": NoRetryPolicy(),
    }
    return RedisStorage(f"async+{redis_url}", wrap_exceptions=True, **options)


class RateLimiter:
    """Counts requests per identity against one limit."""

    def __init__(self, rate: str, redis_url: str = "", redis_timeout: float = 0.5) -> None:
        self._item = parse_rate(rate)
        self._storage = _storage(redis_url, redis_timeout)
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)
        self._open_until = float("-inf")  # monotonic time until which requests pass unasked

    async def hit(self, identity: str) -> RateDecision:
        """Count a request by `identity`; `allowed` is False once the limit is reached."""
        if time.monotonic() < self._open_until:
            return self._let_through()
        try:
            allowed = await self._strategy.hit(self._item, _NAMESPACE, identity)
            stats = await self._strategy.get_window_stats(self._item, _NAMESPACE, identity)
        except StorageError as exc:
            self._open_until = time.monotonic() + _FAIL_OPEN_SECONDS
            reason = str(exc.storage_error) or type(exc.storage_error).__name__
            log.warning("rate_limit_storage_failed", error=reason, unchecked_for=_FAIL_OPEN_SECONDS)
            return self._let_through()
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return RateDecision(allowed, self._item.amount, max(0, stats.remaining), reset)

    def _let_through(self) -> RateDecision:
        return RateDecision(True, self._item.amount, self._item.amount, 0)
