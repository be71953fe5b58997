"""A thread's paused run indexed by itself; a run's status no longer indexed.

Every turn's begin wrote its run into the status index and its finish moved it: one page of each
transaction's WAL on SQLite (2 of a turn's 25), an index entry per write on PostgreSQL. The
queries it served find their rows by other indexes: the running runs by the partial unique
index on running runs, a thread's paused run by this partial index, which only a pause writes
(bench/analysis.md, round 47).
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"

_PAUSED = "status = 'requires_action'"


def upgrade() -> None:
    op.create_index(
        "ix_runs_paused_thread_id",
        "runs",
        ["thread_id"],
        sqlite_where=sa.text(_PAUSED),
        postgresql_where=sa.text(_PAUSED),
    )
    op.drop_index("ix_runs_status", table_name="runs")


def downgrade() -> None:
    op.create_index("ix_runs_status", "runs", ["status"])
    op.drop_index("ix_runs_paused_thread_id", table_name="runs")
