"""Search ignores accents on PostgreSQL too ("cafe" finds "café"), as SQLite's FTS5 tokenizer
(`remove_diacritics 2`, 0004) already does.

A text-search configuration of our own, `graphchat_search`: `simple` with the `unaccent`
dictionary (contrib, a trusted extension: the database owner may create it) in front of it for
every word that is not plain ASCII. The stored vectors are rebuilt with it (PostgreSQL 15 cannot
change a generated column's expression, so each column is dropped and added again: a rewrite of
the table, about a minute per million messages, then the GIN index is built again).

Without `unaccent` the upgrade stops with a message saying how to add it, rather than index
without folding: every PostgreSQL distribution ships it, and a later fix would need this rebuild
anyway. A downgrade leaves the extension installed (something else may use it).
"""

from alembic import op
from sqlalchemy import exc, text

revision: str = "0008"
down_revision: str | None = "0007"

CONFIG = "graphchat_search"
# The token types of the `default` parser that can hold a non-ASCII letter.
_ACCENTED_TOKENS = "word, hword, hword_part, numword, numhword, hword_numpart"
_NO_UNACCENT = (
    "Search needs PostgreSQL's `unaccent` extension (contrib; trusted since PostgreSQL 13), "
    "and this database user cannot create it: {error}. Install the contrib package if it is "
    "missing (Debian/Ubuntu: it ships with `postgresql-NN`; RHEL: `postgresql-contrib`), or have "
    "the database owner or a superuser run `CREATE EXTENSION unaccent;` in this database, then "
    "start graphchat again."
)


def _vectors(config: str) -> list[str]:
    """Drop and add the generated vector columns (and their GIN indexes) with `config`."""
    message_text = (
        f"CASE WHEN role IN ('user', 'assistant') "
        f"THEN to_tsvector('{config}'::regconfig, left(content, 100000)) END"
    )
    title_text = f"to_tsvector('{config}'::regconfig, coalesce(title, ''))"
    statements = []
    for table, column, expression in (
        ("messages", "search_vector", message_text),
        ("threads", "title_vector", title_text),
    ):
        statements += [
            f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}",
            f"ALTER TABLE {table} ADD COLUMN {column} tsvector "
            f"GENERATED ALWAYS AS ({expression}) STORED",
            f"CREATE INDEX ix_{table}_{column} ON {table} USING gin ({column})",
            f"ANALYZE {table}",
        ]
    return statements


def _create_unaccent() -> None:
    """CREATE EXTENSION unaccent, or a clear error; inside a savepoint, so that a refusal leaves
    the migration's transaction usable for the error to surface cleanly."""
    bind = op.get_bind()
    if bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")).first():
        return
    try:
        with bind.begin_nested():
            bind.execute(text("CREATE EXTENSION unaccent"))
    except exc.DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise RuntimeError(_NO_UNACCENT.format(error=reason)) from error


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # FTS5 already folds accents
    _create_unaccent()
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple)")
    op.execute(
        f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} "
        f"ALTER MAPPING FOR {_ACCENTED_TOKENS} WITH unaccent, simple"
    )
    for statement in _vectors(CONFIG):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _vectors("simple"):
        op.execute(statement)
    op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")
