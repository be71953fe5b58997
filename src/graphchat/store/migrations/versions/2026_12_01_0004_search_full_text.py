"""Full-text search (branch `search`): an FTS5 index on SQLite, tsvector columns on PostgreSQL.

Only user and assistant messages are indexed (tool output and system prompts are noise), plus
thread titles. Both indexes are kept in step inside the writing transaction (SQLite triggers,
PostgreSQL generated columns), and existing rows are indexed here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"

# External-content FTS5 tables: the text lives once, in messages/threads, addressed by rowid.
_SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages "
    "WHEN new.role IN ('user', 'assistant') BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages "
    "WHEN old.role IN ('user', 'assistant') BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.rowid, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, role ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "SELECT 'delete', old.rowid, old.content WHERE old.role IN ('user', 'assistant'); "
    "INSERT INTO messages_fts(rowid, content) "
    "SELECT new.rowid, new.content WHERE new.role IN ('user', 'assistant'); END",
    "INSERT INTO messages_fts(rowid, content) SELECT rowid, content FROM messages "
    "WHERE role IN ('user', 'assistant')",
    "CREATE VIRTUAL TABLE threads_fts USING fts5(title, content='threads', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER threads_fts_insert AFTER INSERT ON threads WHEN new.title IS NOT NULL BEGIN "
    "INSERT INTO threads_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "CREATE TRIGGER threads_fts_delete AFTER DELETE ON threads WHEN old.title IS NOT NULL BEGIN "
    "INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.rowid, old.title); "
    "END",
    "CREATE TRIGGER threads_fts_update AFTER UPDATE OF title ON threads BEGIN "
    "INSERT INTO threads_fts(threads_fts, rowid, title) "
    "SELECT 'delete', old.rowid, old.title WHERE old.title IS NOT NULL; "
    "INSERT INTO threads_fts(rowid, title) SELECT new.rowid, new.title "
    "WHERE new.title IS NOT NULL; END",
    "INSERT INTO threads_fts(rowid, title) SELECT rowid, title FROM threads "
    "WHERE title IS NOT NULL",
]
_SQLITE_DOWN = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_fts_{action}"
        for table in ("messages", "threads")
        for action in ("insert", "delete", "update")
    ),
    "DROP TABLE IF EXISTS messages_fts",
    "DROP TABLE IF EXISTS threads_fts",
]
# Generated columns fill existing rows as they are added. The text is cut at 100,000
# characters: a tsvector is limited to 1 MB, and an oversized message must still be storable.
_POSTGRES_UP = [
    "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(CASE WHEN role IN ('user', 'assistant') "
    "THEN to_tsvector('simple'::regconfig, left(content, 100000)) END) "
    "STORED",
    "CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)",
    "ALTER TABLE threads ADD COLUMN title_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, coalesce(title, ''))) STORED",
    "CREATE INDEX ix_threads_title_vector ON threads USING gin (title_vector)",
]
_POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_threads_title_vector",
    "ALTER TABLE threads DROP COLUMN IF EXISTS title_vector",
    "DROP INDEX IF EXISTS ix_messages_search_vector",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _run(_SQLITE_UP if op.get_bind().dialect.name == "sqlite" else _POSTGRES_UP)


def downgrade() -> None:
    _run(_SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else _POSTGRES_DOWN)
