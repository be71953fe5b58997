"""Start-up's cheap migration check: the stored revision against the newest migration file."""

from __future__ import annotations

from pathlib import Path

from graphchat.settings import DatabaseSettings
from graphchat.store.database import create_engine
from graphchat.store.migrate import (
    downgrade,
    head_revision,
    is_up_to_date,
    newest_file_revision,
    upgrade,
)


def test_the_newest_file_is_alembics_head() -> None:
    assert newest_file_revision() == head_revision()


async def test_a_database_is_up_to_date_only_at_the_head(tmp_path: Path) -> None:
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'g.db'}"))
    try:
        assert not await is_up_to_date(engine)  # no alembic_version table yet
        await upgrade(engine)
        assert await is_up_to_date(engine)
        await downgrade(engine, "0001")
        assert not await is_up_to_date(engine)
        await upgrade(engine)  # the check must not stop a real upgrade
        assert await is_up_to_date(engine)
    finally:
        await engine.dispose()
