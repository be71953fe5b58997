"""The migrations build the schema store/tables.py declares (columns, types, defaults, keys,
indexes), on both databases; only the search migrations' own objects are the database's alone."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from graphchat.store import Store
from graphchat.store.tables import Base

# Written in SQL by the search migrations and kept by the database itself (FTS5 tables and their
# shadow tables, triggers' columns, generated vectors); the store's queries name them in SQL.
_SEARCH_TABLES = ("messages_fts", "threads_fts")
_SEARCH_COLUMNS = {
    ("messages", "owner"),
    ("messages", "search_vector"),
    ("threads", "title_vector"),
}
_SEARCH_INDEXES = {
    "ix_messages_owner_created_at_id",
    "ix_messages_search_vector",
    "ix_threads_title_vector",
}


def _compared(item: Any, name: str | None, kind: str, reflected: bool, declared: Any) -> bool:
    """Everything but the search migrations' objects, which only the database has."""
    if not reflected or declared is not None:
        return True
    if kind == "table":
        return not (name or "").startswith(_SEARCH_TABLES)
    if kind == "column":
        return (item.table.name, name) not in _SEARCH_COLUMNS
    return not (kind == "index" and name in _SEARCH_INDEXES)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True, "include_object": _compared},
    )
    return compare_metadata(context, Base.metadata)


async def test_the_migrated_schema_is_the_one_tables_declares(store: Store) -> None:
    async with store.engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    assert differences == []
