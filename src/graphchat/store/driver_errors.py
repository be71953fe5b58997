"""Driver errors as ours: which of a database's refusals are a wait, a retry, a setting to fix
or the request's own text, by the error's kind and PostgreSQL's SQLSTATE."""

from __future__ import annotations

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from graphchat.errors import StoreRefused, StoreUnavailable, Translating, ValidationFailed

# PostgreSQL's text and jsonb refuse NUL characters (SQLite stores them): the value, not the
# database, is at fault. character_not_in_repertoire, untranslatable_character.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
# A server that cannot serve now, by SQLSTATE: a connection exception (class 08), out of
# resources (class 53: disk, memory, connections), shutting down, restarting after a crash or
# starting up (57P01-57P03), read-only (25006: a standby, as during a failover), or a statement
# cancelled by `statement_timeout` (57014: a lock held elsewhere, a stuck query). asyncpg
# raises these as plain server errors, which SQLAlchemy marks as a disconnect only when the
# connection is already closed, and a refused connection attempt never is.
_UNAVAILABLE_STATES = ("08", "53", "57P01", "57P02", "57P03", "25006", "57014")
# A transaction PostgreSQL rolled back for another's sake: a deadlock (40P01), a serialization
# failure (40001). Nothing of it is stored, and the same request sent again can succeed.
_ROLLED_BACK_STATES = ("40P01", "40001")
# A server that answers and refuses us: a wrong user or password (class 28), no such database.
_REFUSING_STATES = ("28", "3D000")


def translated() -> Translating:
    """Driver errors become ours (integrity errors stay: callers map them to conflicts)."""
    return _TRANSLATED


def _as_ours(error: BaseException) -> None:
    if isinstance(error, IntegrityError):
        return
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError | OSError):
        raise StoreUnavailable("the database is unavailable; try again shortly") from error
    if isinstance(error, DBAPIError):
        _refused_as_ours(error)
    if isinstance(error, StatementError | UnicodeEncodeError):
        refuse_unencodable(error)


def _refused_as_ours(error: DBAPIError) -> None:
    """A server's refusal as ours, by its SQLSTATE; returns for one that is not."""
    state = getattr(error.orig, "sqlstate", None) or ""
    if error.connection_invalidated:
        raise StoreUnavailable("the database connection was lost; try again") from error
    if state.startswith(_UNAVAILABLE_STATES):
        raise StoreUnavailable("the database is unavailable; try again shortly") from error
    if state.startswith(_REFUSING_STATES):
        raise StoreRefused("the database refused graphchat's connection") from error
    if state in _ROLLED_BACK_STATES:
        raise StoreUnavailable(
            "the database rolled this request back for a concurrent one; try again"
        ) from error
    if state in _UNSTORABLE_TEXT:
        raise ValidationFailed(
            "the text contains a character the database cannot store (NUL, \\u0000)",
            code="invalid_text",
        ) from error


_TRANSLATED = Translating(_as_ours)


def refuse_unencodable(error: BaseException) -> None:
    """Text with half of a surrogate pair, which a JSON body may name (`"\\ud800"`) and no
    UTF-8 text can hold, refused as invalid: the encoder's error comes as it is (the statements
    sent alone, sent_alone.py), wrapped by SQLAlchemy's execution, or by asyncpg."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, UnicodeEncodeError):
        cause = getattr(cause, "orig", None) or cause.__cause__
    if cause is not None:
        raise ValidationFailed(
            "the text contains half of a surrogate pair (\\ud800-\\udfff), which the database "
            "cannot take",
            code="invalid_text",
        ) from error
