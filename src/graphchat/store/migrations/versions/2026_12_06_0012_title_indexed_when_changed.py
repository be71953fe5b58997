"""SQLite: a thread's title is indexed again only when it changes.

Every turn's begin writes the thread's title with its activity time (the title rule may set it),
and `AFTER UPDATE OF title` fires for any UPDATE that names the column: each turn deleted and
re-added the same title in `threads_fts`, three of the 15 pages its begin wrote to the WAL, and
FTS5's tokenizing (bench/analysis.md, round 44). PostgreSQL's title vector is a generated column.
"""

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"

_TRIGGER = (
    "CREATE TRIGGER threads_fts_update AFTER UPDATE OF title ON threads {when}BEGIN "
    "INSERT INTO threads_fts(threads_fts, rowid, title) "
    "SELECT 'delete', old.rowid, old.title WHERE old.title IS NOT NULL; "
    "INSERT INTO threads_fts(rowid, title) SELECT new.rowid, new.title "
    "WHERE new.title IS NOT NULL; END"
)


def upgrade() -> None:
    _recreate("WHEN old.title IS NOT new.title ")


def downgrade() -> None:
    _recreate("")


def _recreate(when: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER threads_fts_update")
        op.execute(_TRIGGER.format(when=when))
