"""A wall clock tests move by hand, for components that take `clock=` (no waiting on time)."""

from __future__ import annotations

from datetime import datetime

from graphchat.store.threads import utcnow


class FakeClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now
