"""Initial schema: threads, messages, runs, run events, API keys, cached replies."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(length=128)
UUID = sa.String(length=36)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _create_table(
    name: str,
    *columns: sa.Column[Any],
    primary_key: Sequence[str] = ("id",),
    parent: tuple[str, str] | None = None,
    unique: Sequence[str] = (),
) -> None:
    """A table with its named constraints: the primary key, the parent row it is deleted with
    (column, table) and a unique column group."""
    constraints: list[sa.Constraint] = []
    if parent is not None:
        column, parent_table = parent
        constraints.append(
            sa.ForeignKeyConstraint(
                [column],
                [f"{parent_table}.id"],
                name=op.f(f"fk_{name}_{column}_{parent_table}"),
                ondelete="CASCADE",
            )
        )
    constraints.append(sa.PrimaryKeyConstraint(*primary_key, name=op.f(f"pk_{name}")))
    if unique:
        constraints.append(sa.UniqueConstraint(*unique, name=op.f(f"uq_{name}_{'_'.join(unique)}")))
    op.create_table(name, *columns, *constraints)


def _unique_where(name: str, table: str, columns: list[str], condition: str) -> None:
    """A unique index over the rows that meet `condition` (a partial index on both databases)."""
    where = sa.text(condition)
    op.create_index(name, table, columns, unique=True, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _create_table(
        "threads",
        sa.Column("id", ID, nullable=False),
        sa.Column("owner", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix_threads_owner_created_at", "threads", ["owner", "created_at", "id"])
    op.create_index("ix_threads_owner_updated_at", "threads", ["owner", "updated_at", "id"])

    _create_table(
        "messages",
        sa.Column("id", UUID, nullable=False),
        sa.Column("thread_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("run_id", UUID, nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tool_calls", JSON, nullable=True),
        sa.Column("tool_call_id", ID, nullable=True),
        sa.Column("name", ID, nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("finish_reason", sa.String(length=16), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("cached", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _timestamp("created_at"),
        parent=("thread_id", "threads"),
        unique=("thread_id", "seq"),
    )
    op.create_index("ix_messages_run_id", "messages", ["run_id"])

    _create_table(
        "runs",
        sa.Column("id", UUID, nullable=False),
        sa.Column("thread_id", ID, nullable=False),
        sa.Column("owner", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("error", JSON, nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("worker_id", sa.String(length=100), nullable=True),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        parent=("thread_id", "threads"),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_thread_id_created_at", "runs", ["thread_id", "created_at"])
    _unique_where("uq_runs_one_running_per_thread", "runs", ["thread_id"], "status = 'running'")
    _unique_where(
        "uq_runs_owner_idempotency_key",
        "runs",
        ["owner", "idempotency_key"],
        "idempotency_key IS NOT NULL",
    )

    _create_table(
        "run_events",
        sa.Column("run_id", UUID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _timestamp("created_at"),
        primary_key=("run_id", "seq"),
        parent=("run_id", "runs"),
    )
    op.create_index("ix_run_events_created_at", "run_events", ["created_at"])

    _create_table(
        "api_keys",
        sa.Column("id", UUID, nullable=False),
        sa.Column("owner", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
        _timestamp("last_used_at", nullable=True),
        unique=("key_hash",),
    )

    _create_table(
        "cached_replies",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("reply", JSON, nullable=False),
        sa.Column("hits", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        primary_key=("key",),
    )
    op.create_index("ix_cached_replies_expires_at", "cached_replies", ["expires_at"])


def downgrade() -> None:
    for table in ("cached_replies", "api_keys", "run_events", "runs", "messages", "threads"):
        op.drop_table(table)
