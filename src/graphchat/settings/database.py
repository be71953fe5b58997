"""The database: URL (mapped onto the async drivers we ship), pool and timeouts."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, field_validator

from graphchat.settings.base import Count, Group

_SQLITE_DRIVER = "sqlite+aiosqlite"
_POSTGRES_DRIVER = "postgresql+asyncpg"
_URL_SCHEMES = {
    "sqlite": _SQLITE_DRIVER,
    _SQLITE_DRIVER: _SQLITE_DRIVER,
    "postgres": _POSTGRES_DRIVER,
    "postgresql": _POSTGRES_DRIVER,
    "postgresql+psycopg": _POSTGRES_DRIVER,
    "postgresql+psycopg2": _POSTGRES_DRIVER,
    _POSTGRES_DRIVER: _POSTGRES_DRIVER,
}
DEFAULT_DATABASE_URL = f"{_SQLITE_DRIVER}:///./data/graphchat.db"


def normalize_database_url(url: str) -> str:
    """Map plain `sqlite://` / `postgresql://` URLs onto the async drivers we ship."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must be a URL such as sqlite:///data/graphchat.db or postgresql://…")
    driver = _URL_SCHEMES.get(scheme.lower())
    if driver is None:
        raise ValueError(f"unsupported database scheme {scheme!r}: use sqlite or postgresql")
    return f"{driver}://{rest}"


class DatabaseSettings(Group):
    title: ClassVar[str] = "Database"

    url: str = Field(
        DEFAULT_DATABASE_URL,
        alias="database_url",
        description="SQLAlchemy URL. `sqlite:///path.db` and `postgresql://user:pw@host/db` are "
        "mapped to the async drivers (aiosqlite, asyncpg). Fallback: `DATABASE_URI`.",
    )
    auto_migrate: bool = Field(
        True, alias="db_auto_migrate", description="Apply pending Alembic migrations at start-up."
    )
    pool_size: Count = Field(
        10,
        le=1000,
        alias="db_pool_size",
        description="PostgreSQL: connections kept open per process.",
    )
    max_overflow: NonNegativeInt = Field(
        10,
        le=1000,
        alias="db_max_overflow",
        description="PostgreSQL: extra connections allowed under bursts.",
    )
    pool_timeout: PositiveFloat = Field(
        10.0,
        alias="db_pool_timeout",
        description="Seconds to wait for a free pooled connection before 503.",
    )
    pool_recycle: int = Field(
        1800,
        ge=-1,
        alias="db_pool_recycle",
        description="Seconds after which a pooled connection is replaced (-1: never).",
    )
    connect_timeout: PositiveFloat = Field(
        5.0,
        alias="db_connect_timeout",
        description="Seconds to wait when opening a database connection.",
    )
    startup_wait_seconds: NonNegativeFloat = Field(
        30.0,
        alias="db_startup_wait_seconds",
        description=(
            "Seconds start-up keeps trying a database that cannot serve yet (not listening,"
            " starting up, locked), as when graphchat and PostgreSQL start together; 0 fails"
            " at once. A wrong password or database name fails at once, named."
        ),
    )
    statement_timeout_seconds: NonNegativeFloat = Field(
        60.0,
        alias="db_statement_timeout_seconds",
        description=(
            "PostgreSQL: the longest one statement may run (waiting for a lock held elsewhere,"
            " a stuck query) before its request gets 503 `database_unavailable`; 0: no limit."
            " Migrations run without it."
        ),
    )
    sqlite_busy_timeout_ms: NonNegativeInt = Field(
        5000, description="SQLite: milliseconds a writer waits for the lock."
    )
    postgres_random_page_cost: PositiveFloat | None = Field(
        1.1,
        description=(
            "PostgreSQL: random_page_cost for graphchat's sessions (1.1 suits SSDs and cached"
            " data; empty keeps the server's). At the default 4, a young messages table made a"
            " branch's walk scan the table once per message."
        ),
    )

    @field_validator("url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("postgres_random_page_cost", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith(_SQLITE_DRIVER)

    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite:
            return None
        path = self.url.split(":///", 1)[1].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)
