"""Run events in batches: one row per run per flush, not one per token.

A row holds the events `seq`..`last_seq` as JSON `[[seq, event, data], …]`; each existing
one-event row becomes a batch of one.
"""

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    with op.batch_alter_table("run_events") as batch:
        batch.add_column(sa.Column("last_seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("events", sa.Text(), nullable=True))
    op.execute(
        "UPDATE run_events SET last_seq = seq, events = "
        "'[[' || CAST(seq AS TEXT) || ',\"' || event || '\",' || data || ']]'"
    )
    with op.batch_alter_table("run_events") as batch:
        batch.alter_column("last_seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("events", existing_type=sa.Text(), nullable=False)
        batch.drop_column("event")
        batch.drop_column("data")


def downgrade() -> None:
    with op.batch_alter_table("run_events") as batch:
        batch.add_column(sa.Column("event", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("data", sa.Text(), nullable=True))
    bind = op.get_bind()
    table = sa.table(
        "run_events",
        sa.column("run_id"),
        sa.column("seq"),
        sa.column("events"),
        sa.column("created_at"),
        sa.column("event"),
        sa.column("data"),
        sa.column("last_seq"),
    )
    rows = bind.execute(sa.select(table.c.run_id, table.c.events, table.c.created_at)).all()
    bind.execute(sa.delete(table))
    singles = [
        {
            "run_id": row.run_id,
            "seq": seq,
            "last_seq": seq,
            "event": name,
            "data": orjson.dumps(data).decode(),
            "events": "",
            "created_at": row.created_at,
        }
        for row in rows
        for seq, name, data in orjson.loads(row.events)
    ]
    if singles:
        bind.execute(sa.insert(table), singles)
    with op.batch_alter_table("run_events") as batch:
        batch.alter_column("event", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("data", existing_type=sa.Text(), nullable=False)
        batch.drop_column("events")
        batch.drop_column("last_seq")
