"""The database schema: one mapped class per table. Only `store/` imports this module."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 128
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return _naive_utc(value) if dialect.name == "sqlite" else _aware(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # SQLite's text written in one call: the decorator's wrapper around the driver type's
        # `%` format of a dict of seven fields cost ~1.3 us per value, 12 values a turn.
        if dialect.name == "sqlite":
            return _text_in_utc
        return super().bind_processor(dialect)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        # SQLite's text parsed in one call: the decorator's wrapper around the driver's parser
        # cost ~1 us per value, about a fifth of reading a whole row of a thread's window.
        if dialect.name == "sqlite":
            return _utc_from_text
        return super().result_processor(dialect, coltype)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UtcDateTime column")
    return value


def _naive_utc(value: datetime) -> datetime:
    """An aware datetime as SQLite keeps it: naive, in UTC."""
    return _aware(value).astimezone(UTC).replace(tzinfo=None)


def _text_in_utc(value: datetime | None) -> str | None:
    """An aware datetime as SQLite's DATETIME stores it: naive UTC, to the microsecond."""
    return None if value is None else _utc_text(value)


# A turn's rows share their times (one `now` per transaction), and `isoformat` parses its
# format string at every call: ~7 K instructions, 10 times a turn.
@lru_cache(maxsize=16)
def _utc_text(value: datetime) -> str:
    # The UTC time's own text, its "+00:00" cut: a naive copy first cost a `replace` more.
    return _aware(value).astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _utc_from_text(value: str | None) -> datetime | None:
    """SQLite's stored text (naive UTC, as `process_bind_param` writes it) made aware."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value + "+00:00")  # a seventh of parse + replace(tzinfo)
    except ValueError:  # text that carries its own offset
        return datetime.fromisoformat(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ThreadRow(Base):
    __tablename__ = "threads"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(ID_LENGTH))
    title: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The end of the branch being shown and continued: the only column a branch switch updates.
    leaf_message_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        Index("ix_threads_owner_updated_at", "owner", "updated_at", "id"),
        Index("ix_threads_owner_created_at", "owner", "created_at", "id"),
    )


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("threads.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    # The previous message on this message's branch (None for a thread's first messages).
    parent_id: Mapped[str | None] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    tool_call_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    name: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    model: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    cached: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("thread_id", "seq"),
        Index("ix_messages_run_id", "run_id"),
        Index("ix_messages_thread_id_parent_id", "thread_id", "parent_id"),
    )


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("threads.id", ondelete="CASCADE")
    )
    owner: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JsonType)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    worker_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A paused run's pending tool calls and what resuming needs; never the conversation.
    pending: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    __table_args__ = (
        Index("ix_runs_thread_id_created_at", "thread_id", "created_at"),
        # At most one running run per thread, enforced by the database across replicas.
        Index(
            "uq_runs_one_running_per_thread",
            "thread_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index(
            "uq_runs_owner_idempotency_key",
            "owner",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        # A thread's paused run, which every turn's begin looks for: a run's status has no index
        # of its own, whose entries each turn moved (bench/analysis.md, round 47). The running
        # runs are found through the unique index above.
        Index(
            "ix_runs_paused_thread_id",
            "thread_id",
            sqlite_where=text("status = 'requires_action'"),
            postgresql_where=text("status = 'requires_action'"),
        ),
    )


class RunEventRow(Base):
    """A batch of a run's stream events (`seq`..`last_seq`), kept so clients can rejoin after a
    drop or a restart: one row per run per flush, not one per token."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # the batch's first event
    last_seq: Mapped[int] = mapped_column(Integer)
    events: Mapped[str] = mapped_column(Text)  # JSON: [[seq, event, data], …]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_run_events_created_at", "created_at"),)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CachedReplyRow(Base):
    """A model reply cached under a hash of model, parameters and exact context."""

    __tablename__ = "cached_replies"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    reply: Mapped[dict[str, Any]] = mapped_column(JsonType)
    hits: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_cached_replies_expires_at", "expires_at"),)


def core_table(row: type[Base]) -> Table:
    """The Core table behind a mapped class (SQLAlchemy types `__table__` as a FromClause)."""
    return cast(Table, row.__table__)


THREADS = core_table(ThreadRow)
MESSAGES = core_table(MessageRow)
RUNS = core_table(RunRow)
RUN_EVENTS = core_table(RunEventRow)
KEYS = core_table(ApiKeyRow)
REPLIES = core_table(CachedReplyRow)
