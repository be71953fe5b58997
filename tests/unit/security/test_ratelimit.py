"""The in-memory limiter: counts per identity and reports what the headers need, and leaves the
Redis client unloaded."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
from pathlib import Path
from typing import Any

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


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting what is handed to its threads."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_counting_a_request_never_hands_work_to_a_thread() -> None:
    """A hit costs no thread hop (the exact moving window's in-memory expiry took one per key
    after every hit)."""
    executor = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    limiter = RateLimiter("100/minute")

    for identity in ("a", "b", "a", "c", "a"):
        assert (await limiter.hit(identity)).allowed
    await asyncio.sleep(0.05)  # what a hit left to run in the background has run

    assert executor.submitted == 0
    executor.shutdown()


def test_an_app_with_a_rate_limit_and_no_redis_leaves_coredis_unloaded(tmp_path: Path) -> None:
    """coredis takes ~0.65 s to import, and only a configured Redis needs it: start-up with the
    default rate limit (in memory) must not pay for it."""
    code = (
        "import sys\n"
        "from graphchat.app import create_app\n"
        "from graphchat.settings import Settings\n"
        f"create_app(Settings(database_url='sqlite:///{tmp_path}/g.db', rate_limit='30/minute'))\n"
        "print('coredis' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "False"
