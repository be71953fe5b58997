"""API keys: hashes with their owner, name and prefix; created, listed and revoked by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from graphchat.errors import NotFound
from graphchat.ids import new_id
from graphchat.store.database import changed_rows, read_row, read_rows, run_transaction
from graphchat.store.repository import Repository
from graphchat.store.tables import KEYS

# `last_used_at` is a hint for operators, not an audit log: write it at most this often per key.
_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    owner: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _key_from_row(m: RowMapping) -> ApiKey:
    return ApiKey(
        id=m["id"],
        owner=m["owner"],
        name=m["name"],
        prefix=m["prefix"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


_COLUMNS = (
    KEYS.c.id,
    KEYS.c.owner,
    KEYS.c.name,
    KEYS.c.prefix,
    KEYS.c.created_at,
    KEYS.c.revoked_at,
    KEYS.c.last_used_at,
)
_FIND_BY_HASH = select(*_COLUMNS).where(KEYS.c.key_hash == bindparam("key_hash", type_=String))


class ApiKeyRepository(Repository):
    async def create(self, *, owner: str, name: str, prefix: str, key_hash: str) -> ApiKey:
        """Store a new key's hash."""
        key = ApiKey(
            id=new_id(),
            owner=owner,
            name=name,
            prefix=prefix,
            created_at=datetime.now(UTC),
            revoked_at=None,
            last_used_at=None,
        )
        stored = insert(KEYS).values(**asdict(key), key_hash=key_hash)
        await changed_rows(self._engine, stored, autocommit=True)
        return key

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not (the index on `key_hash` makes this one probe).

        Read on every request when keys are on: a short read (on a SQLite file on the loop's
        thread, not through aiosqlite's hops; on PostgreSQL one round trip), never cached, so a
        revoked key is refused at once."""
        parameters = {"key_hash": key_hash}
        row = await read_row(self._engine, _FIND_BY_HASH, parameters)
        return _key_from_row(row._mapping) if row is not None else None

    async def list_keys(self, *, owner: str | None = None) -> list[ApiKey]:
        """Every key (or one owner's), oldest first."""
        query = select(*_COLUMNS).order_by(KEYS.c.created_at, KEYS.c.id)
        if owner is not None:
            query = query.where(KEYS.c.owner == owner)
        return [_key_from_row(row._mapping) for row in await read_rows(self._engine, query)]

    async def revoke(self, id_or_prefix: str) -> ApiKey:
        """Revoke the key with this id or prefix; revoking twice keeps the first time."""
        match = or_(KEYS.c.id == id_or_prefix, KEYS.c.prefix == id_or_prefix)

        def revoke(connection: Connection) -> ApiKey:
            rows = connection.execute(select(*_COLUMNS).where(match)).all()
            if len(rows) != 1:
                found = "matches several keys" if rows else "matches no key"
                raise NotFound(f"'{id_or_prefix}' {found}", code="api_key_not_found")
            key = _key_from_row(rows[0]._mapping)
            if key.revoked_at is None:
                now = datetime.now(UTC)
                connection.execute(update(KEYS).where(KEYS.c.id == key.id).values(revoked_at=now))
                key = replace(key, revoked_at=now)
            return key

        return await run_transaction(self._engine, revoke, write=True)

    async def touch(self, key_id: str, now: datetime) -> None:
        """Record a use of the key, unless one was recorded within the last minute."""
        stale = or_(KEYS.c.last_used_at.is_(None), KEYS.c.last_used_at < now - _TOUCH_INTERVAL)
        used = update(KEYS).where(and_(KEYS.c.id == key_id, stale)).values(last_used_at=now)
        await changed_rows(self._engine, used, autocommit=True)
