"""PostgreSQL: the owner trigger fires only for a message inserted without its owner.

A turn's statements now give their messages the owner (begin's since 0009, finish's now:
store/turn_writes.py), and a row trigger cost PostgreSQL ~30 µs per message even when its function
only kept the given owner (bench/analysis.md, round 40). Other writes (an appended tool result, a
branch, an import) still leave the lookup to it. SQLite has no owner column.
"""

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"

_CREATE = (
    "CREATE TRIGGER messages_owner BEFORE INSERT ON messages FOR EACH ROW {when}"
    "EXECUTE FUNCTION messages_owner()"
)


def upgrade() -> None:
    _recreate("WHEN (NEW.owner IS NULL) ")


def downgrade() -> None:
    _recreate("")


def _recreate(when: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER messages_owner ON messages")
        op.execute(_CREATE.format(when=when))
