"""The in-memory limiter: counts per identity and reports what the headers need."""

from __future__ import annotations

from graphchat.security.ratelimit import RateLimiter


async def test_requests_over_the_limit_are_refused_per_identity() -> None:
    limiter = RateLimiter("2/minute")

    decisions = [await limiter.hit("a") for _ in range(3)]
    other = await limiter.hit("b")

    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.remaining for d in decisions] == [1, 0, 0]
    assert decisions[-1].limit == 2
    assert 1 <= decisions[-1].reset_seconds <= 60
    assert other.allowed and other.remaining == 1
