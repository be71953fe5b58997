"""The rate-limit tests' guard against a window's edge, and the edge effect it guards against."""

from __future__ import annotations

import time

from graphchat.security.ratelimit import RateLimiter
from support.rate_windows import clear_of_window_edge


def test_returns_at_once_far_from_an_edge() -> None:
    began = time.monotonic()

    clear_of_window_edge(period=3600.0, margin=0.0)

    assert time.monotonic() - began < 0.05


def test_waits_into_the_next_window_near_its_edge() -> None:
    began = time.time()

    clear_of_window_edge(period=1.0, margin=1.0)  # never a whole second left: always waits

    assert int(time.time()) == int(began) + 1  # past one edge (a late wake-up stays short of two)


async def test_a_lone_hit_before_an_edge_is_not_seen_after_it() -> None:
    """Why the guard exists: the limiter floors the previous window's weighted count."""
    for attempt in range(5):  # a busy machine may carry the first hit past the edge: again
        limiter = RateLimiter("1/second")
        clear_of_window_edge(period=1.0, margin=1.0)  # at the start of a second
        time.sleep(0.8)  # near its end
        window = int(time.time())
        first = await limiter.hit(f"a{attempt}")
        if int(time.time()) != window:
            continue
        time.sleep(window + 1.01 - time.time())  # just past the edge
        second = await limiter.hit(f"a{attempt}")
        third = await limiter.hit(f"a{attempt}")
        if int(time.time()) == window + 1:
            break
    else:
        raise AssertionError("no attempt stayed inside its two windows")

    assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
