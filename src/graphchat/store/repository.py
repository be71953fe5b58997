"""The base of every repository: one kind of record, read and written over the shared engine."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


class Repository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
