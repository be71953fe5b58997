"""SQLite indexes messages for search in batches, after the turn, instead of in its transaction.

FTS5 writes a segment for every transaction that adds to its index: ten WAL pages and ~0.2 ms of
CPU per turn (round 32). Messages are now indexed by rowid up to a high-water mark,
`messages_fts_progress.upto`, in batches (store/search_index.py). The insert trigger goes; the
delete and update triggers touch the index only for rows at or below the mark, and a delete at
the top lowers the mark, so a rowid SQLite reuses is never taken for an indexed one. Every
message stored so far was indexed by the old trigger: the mark starts at the newest.
PostgreSQL indexes in the statement (generated tsvector columns) and is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"

_DELETE = (
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) SELECT 'delete', old.rowid, "
    "old.content WHERE old.role IN ('user', 'assistant') "
    "AND old.rowid <= (SELECT upto FROM messages_fts_progress); "
    "UPDATE messages_fts_progress SET upto = (SELECT coalesce(max(rowid), 0) FROM messages) "
    "WHERE upto > (SELECT coalesce(max(rowid), 0) FROM messages); END"
)
_UPDATE = (
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, role ON messages "
    "WHEN old.rowid <= (SELECT upto FROM messages_fts_progress) BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "SELECT 'delete', old.rowid, old.content WHERE old.role IN ('user', 'assistant'); "
    "INSERT INTO messages_fts(rowid, content) "
    "SELECT new.rowid, new.content WHERE new.role IN ('user', 'assistant'); END"
)
_UP = [
    "CREATE TABLE messages_fts_progress (upto INTEGER NOT NULL)",
    "INSERT INTO messages_fts_progress (upto) SELECT coalesce(max(rowid), 0) FROM messages",
    "DROP TRIGGER messages_fts_insert",
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_update",
    _DELETE,
    _UPDATE,
]
# Down: what is not indexed yet is indexed, and 0004's triggers come back.
_DOWN = [
    "INSERT INTO messages_fts(rowid, content) SELECT rowid, content FROM messages "
    "WHERE rowid > (SELECT upto FROM messages_fts_progress) AND role IN ('user', 'assistant')",
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_update",
    "DROP TABLE messages_fts_progress",
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
]


def _run(statements: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(_UP)


def downgrade() -> None:
    _run(_DOWN)
