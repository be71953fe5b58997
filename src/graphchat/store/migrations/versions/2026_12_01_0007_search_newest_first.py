"""Search ranks the newest matches only: the indexes that find them without reading the rest.

SQLite: an FTS5 vocabulary table over the message index, so a last word typed as a prefix is
looked up as the few whole words it starts rather than merged over all of their postings.
PostgreSQL: each message carries its thread's owner (filled by a trigger in the inserting
transaction; a thread never changes owner), so a search filters on the row it already reads
instead of looking up every match's thread; and messages by (owner, created_at, id), which a
search for common words walks newest first, stopping after the candidates it ranks. The backfill
rewrites every message row once (1M rows: about a minute); autovacuum reclaims the old versions.
"""

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"

_UP = {
    "sqlite": ["CREATE VIRTUAL TABLE messages_fts_words USING fts5vocab(messages_fts, instance)"],
    "postgresql": [
        "ALTER TABLE messages ADD COLUMN owner varchar(128)",
        "UPDATE messages SET owner = threads.owner FROM threads "
        "WHERE threads.id = messages.thread_id",
        "CREATE FUNCTION messages_owner() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.owner := (SELECT owner FROM threads WHERE id = NEW.thread_id); RETURN NEW; END $$",
        "CREATE TRIGGER messages_owner BEFORE INSERT ON messages "
        "FOR EACH ROW EXECUTE FUNCTION messages_owner()",
        "CREATE INDEX ix_messages_owner_created_at_id ON messages (owner, created_at, id)",
        "ANALYZE messages",
    ],
}
_DOWN = {
    "sqlite": ["DROP TABLE IF EXISTS messages_fts_words"],
    "postgresql": [
        "DROP INDEX IF EXISTS ix_messages_owner_created_at_id",
        "DROP TRIGGER IF EXISTS messages_owner ON messages",
        "DROP FUNCTION IF EXISTS messages_owner()",
        "ALTER TABLE messages DROP COLUMN IF EXISTS owner",
    ],
}


def upgrade() -> None:
    for statement in _UP[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DOWN[op.get_bind().dialect.name]:
        op.execute(statement)
