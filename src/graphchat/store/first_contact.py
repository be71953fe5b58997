"""The process's first use of the database, waited for while the database cannot serve yet.

graphchat and PostgreSQL often start together (a compose file, a host's boot, a replica
restarted with its database): the server then refuses connections, or answers that it is
starting up, for a few seconds. Start-up tries again rather than exiting on the first refusal;
a database that answers and refuses graphchat (credentials, name) is a setting to fix, named
at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import DBAPIError

from graphchat.errors import StoreRefused, StoreUnavailable

log = structlog.get_logger(__name__)
_FIRST_PAUSE_SECONDS = 0.25
_LONGEST_PAUSE_SECONDS = 2.0


async def when_answering(first: Callable[[], Awaitable[None]], where: str, within: float) -> None:
    """Await `first()`; while it finds the database unavailable, try again with growing pauses
    for up to `within` seconds, then raise `StoreUnavailable` naming `where` and the reason."""
    deadline = time.monotonic() + within
    pause = _FIRST_PAUSE_SECONDS
    while True:
        try:
            await first()
            return
        except StoreRefused as exc:
            raise StoreRefused(
                f"the database at {where} refused graphchat: {_reason(exc)}"
            ) from exc
        except StoreUnavailable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailable(
                    f"the database at {where} did not answer within {within:g} s: {_reason(exc)}"
                ) from exc
            log.warning("database_waiting", database=where, error=_reason(exc))
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)


def _reason(error: StoreUnavailable) -> str:
    """What the driver said ("Connection refused", "the database system is starting up")."""
    cause = error.__cause__
    if isinstance(cause, DBAPIError) and cause.orig is not None:
        cause = cause.orig
    return str(cause) if cause is not None else error.message
