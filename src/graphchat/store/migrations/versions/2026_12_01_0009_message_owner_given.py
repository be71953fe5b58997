"""PostgreSQL: a message inserted with its owner keeps it; the trigger looks the owner up only
when it is not given (0007 always looked it up).

A new thread's first turn stores the thread, its run and its messages in one statement (one round
trip, store/turn_writes.py), where the trigger's lookup cannot see the thread inserted beside
them: that statement gives each message its owner. SQLite has no owner column.
"""

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"

_FUNCTION = (
    "CREATE OR REPLACE FUNCTION messages_owner() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.owner := {owner}; RETURN NEW; END $$"
)
_LOOKUP = "(SELECT owner FROM threads WHERE id = NEW.thread_id)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION.format(owner=f"COALESCE(NEW.owner, {_LOOKUP})"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION.format(owner=_LOOKUP))
