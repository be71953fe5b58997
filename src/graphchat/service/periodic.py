"""Background work on a timer that outlives database outages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from structlog.typing import FilteringBoundLogger

from graphchat.errors import StoreUnavailable


async def every(
    seconds: float,
    tick: Callable[[], Awaitable[None]],
    log: FilteringBoundLogger,
    skipped: str,
    *,
    busy: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Call `tick` every `seconds`, forever; a tick the database refuses is logged as `skipped`
    and the next one tries again. With `busy`, only while it returns at once: an idle process
    sleeps until there is work instead of waking to find none.

    Any other failure is logged as an error and the loop goes on too: a loop that ended would
    leave this process without its crash recovery or event writes until it restarts. The
    traceback is logged once per run of failures, not on every tick."""
    failing = False
    while True:
        if busy is not None:
            await busy()
        await asyncio.sleep(seconds)
        try:
            await tick()
        except StoreUnavailable as exc:
            log.warning(skipped, error=exc.message)
        except Exception as exc:
            log.error(skipped, error=str(exc) or type(exc).__name__, exc_info=not failing)
            failing = True
        else:
            failing = False
