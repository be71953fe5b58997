"""Alembic migrations shipped in the package, applied at start-up or by `graphchat db upgrade`.

Start-up first compares the stored revision with the newest file's: when they match, Alembic
(a few hundred milliseconds of imports and script loading) is not needed at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphchat.store.database import transaction

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: replicas starting together queue on this lock instead of racing.
_PG_MIGRATION_LOCK = 7_461_023_117
_REVISION = re.compile(r"^revision\b[^=]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


# Alembic is imported where it is used: an up-to-date start-up never needs it.
def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def newest_file_revision() -> str | None:
    """The one revision no file names as its parent; None when unsure (Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        parents.update(_DOWN_REVISION.findall(source))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


async def is_up_to_date(engine: AsyncEngine) -> bool:
    """Whether the database already stands at the newest shipped revision."""
    newest = newest_file_revision()
    if newest is None:
        return False
    async with transaction(engine) as connection:
        return await connection.run_sync(_stored) == newest


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    if revision == "head" and await is_up_to_date(engine):
        return
    async with transaction(engine, write=True) as connection:
        if connection.dialect.name == "postgresql":
            await _without_statement_timeout(connection)
            await connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        await connection.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with transaction(engine, write=True) as connection:
        if connection.dialect.name == "postgresql":
            await _without_statement_timeout(connection)
        await connection.run_sync(_downgrade, revision)


async def _without_statement_timeout(connection: AsyncConnection) -> None:
    """A migration may build an index over every message, and a replica waits for another's
    migration on the advisory lock: neither is bound by the sessions' statement timeout."""
    await connection.execute(text("SET LOCAL statement_timeout = 0"))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with transaction(engine) as connection:
        return await connection.run_sync(_current)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
