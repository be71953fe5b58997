"""Column types read back what was written: UTC-aware datetimes, JSON values and JSON null."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from graphchat.store import Store
from graphchat.store.database import transaction
from graphchat.store.records import NewMessage, NewRun, NewThread, TurnRules
from graphchat.store.tables import UtcDateTime

_RULES = TurnRules(model=lambda model: model or "m", title=lambda title, _: title)


async def test_datetimes_read_back_aware_in_utc_to_the_microsecond(store: Store) -> None:
    created = await store.threads.create(NewThread(id="t", owner="o"))

    read = await store.threads.get("o", "t")

    assert read.created_at == created.created_at
    assert read.created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            "2026-01-02 03:04:05.000006+02:00",
            datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
async def test_sqlite_datetime_text_without_microseconds_or_with_an_offset_reads_back(
    store: Store, stored: str, expected: datetime
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite stores datetimes as text")
    await store.threads.create(NewThread(id="t", owner="o"))
    async with transaction(store.engine, write=True) as connection:
        await connection.execute(text("UPDATE threads SET created_at = :v"), {"v": stored})

    read = await store.threads.get("o", "t")

    assert read.created_at == expected
    assert read.created_at.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 18, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 18, 30, 1, tzinfo=UTC),  # no microseconds: still written
        datetime(2026, 12, 7, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        None,
    ],
)
def test_sqlite_datetime_text_is_what_sqlalchemys_sqlite_type_writes(
    value: datetime | None,
) -> None:
    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DATETIME().bind_processor(dialect)
    assert ours is not None and theirs is not None
    naive_utc = value and value.astimezone(UTC).replace(tzinfo=None)

    assert ours(value) == theirs(naive_utc)


def test_sqlite_refuses_a_naive_datetime() -> None:
    dialect = sqlite.dialect()
    process = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None

    with pytest.raises(ValueError, match="naive datetime"):
        process(datetime(2026, 12, 6, 18, 30))


async def test_json_values_and_json_null_read_back_as_written(store: Store) -> None:
    calls = [{"id": "c1", "name": "lookup", "arguments": {"q": "null"}}]
    run = NewRun(id="r", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    await store.runs.begin_turn(
        run,
        [
            NewMessage(role="user", content="hi"),  # no tool calls: stored as JSON null
            NewMessage(role="assistant", content="", tool_calls=calls),
        ],
        _RULES,
    )
    await store.threads.update("o", "t", {"metadata": {"a": "null", "b": [None]}})

    window = await store.messages.recent("t", 10)
    thread = await store.threads.get("o", "t")

    assert [message.tool_calls for message in window] == [None, calls]
    assert thread.metadata == {"a": "null", "b": [None]}


async def test_json_values_are_written_as_graphchat_writes_json(store: Store) -> None:
    """Compact UTF-8 (graphchat.json_text), through the loop's writes and the worker's alike;
    read back as written, integers past 64 bits included."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps JSON as jsonb, not as the text written")
    metadata = {"city": "Zürich", "big": 10**30}
    run = NewRun(id="r", owner="o", thread_id="t", model=None, params={}, worker_id="w")
    await store.runs.begin_turn(run, [NewMessage(role="user", content="hi")], _RULES)
    await store.threads.update("o", "t", {"metadata": metadata})
    async with transaction(store.engine) as connection:
        stored = await connection.execute(text("SELECT metadata FROM threads"))
        params = await connection.execute(text("SELECT params FROM runs"))

    assert stored.scalar_one() == '{"city":"Zürich","big":1000000000000000000000000000000}'
    assert params.scalar_one() == "{}"
    assert (await store.threads.get("o", "t")).metadata == metadata
