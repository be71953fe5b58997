"""Branches: every message knows its parent, every thread its current leaf.

Each existing thread becomes a single branch: a message's parent is the thread's previous
message by sequence number, and the leaf is its last message. No message is lost or changed
apart from the new column.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

# Correlated subqueries read by the unique (thread_id, seq) index: one lookup per row.
_PARENTS = """
UPDATE messages SET parent_id = (
    SELECT previous.id FROM messages AS previous
    WHERE previous.thread_id = messages.thread_id AND previous.seq < messages.seq
    ORDER BY previous.seq DESC LIMIT 1
)
"""
_LEAVES = """
UPDATE threads SET leaf_message_id = (
    SELECT last.id FROM messages AS last
    WHERE last.thread_id = threads.id
    ORDER BY last.seq DESC LIMIT 1
)
"""


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(36), nullable=True))
        batch.create_index("ix_messages_thread_id_parent_id", ["thread_id", "parent_id"])
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("leaf_message_id", sa.String(36), nullable=True))
    op.execute(_PARENTS)
    op.execute(_LEAVES)


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): a batch "recreate" of `messages` would
    # drop and rebuild the table under the full-text index's triggers.
    op.drop_index("ix_messages_thread_id_parent_id", table_name="messages")
    op.execute("ALTER TABLE messages DROP COLUMN parent_id")
    op.execute("ALTER TABLE threads DROP COLUMN leaf_message_id")
