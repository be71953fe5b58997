"""Migration 0006 (branches): threads of the previous release become single branches, nothing
lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.database import create_engine, transaction
from graphchat.store.migrate import current_revision, downgrade, upgrade
from graphchat.store.records import MessageWindow, NewMessage

PREVIOUS_HEAD = "0003"
_STAMP = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_OLD_MESSAGE_COLUMNS = (
    "id, thread_id, seq, run_id, role, content, tool_calls, tool_call_id, name, model, "
    "status, finish_reason, prompt_tokens, completion_tokens, latency_ms, cached, created_at"
)


def _old_messages() -> list[dict[str, Any]]:
    """Two threads the way release 0003 stored them, a tool round included."""
    rows = []
    for thread_id, count in (("old-1", 5), ("old-2", 2)):
        for seq in range(1, count + 1):
            rows.append(
                {
                    "id": f"{thread_id}-m{seq}",
                    "thread_id": thread_id,
                    "seq": seq,
                    "run_id": f"{thread_id}-run",
                    "role": ("user", "assistant", "tool", "assistant", "user")[seq - 1],
                    "content": f"message {seq} of {thread_id} — ünïcode",
                    "tool_calls": None,
                    "tool_call_id": "call-1" if seq == 3 else None,
                    "name": None,
                    "model": "m" if seq % 2 == 0 else None,
                    "status": "complete",
                    "finish_reason": "stop" if seq == 4 else None,
                    "prompt_tokens": seq if seq == 4 else None,
                    "completion_tokens": None,
                    "latency_ms": 1.5 if seq == 4 else None,
                    "cached": False,
                    "created_at": _STAMP.replace(tzinfo=None).isoformat(sep=" "),
                }
            )
    return rows


async def _seed_previous_release(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url).database)
    try:
        # The session's PostgreSQL database may be at head already: start from nothing.
        await downgrade(engine, "base")
        await upgrade(engine, PREVIOUS_HEAD)
        assert await current_revision(engine) == PREVIOUS_HEAD
        async with transaction(engine, write=True) as connection:
            for thread_id in ("old-1", "old-2", "old-empty"):
                await connection.execute(
                    text(
                        "INSERT INTO threads (id, owner, title, model, metadata, created_at, "
                        "updated_at) VALUES (:id, 'alice', 't', NULL, '{}', :at, :at)"
                    ),
                    {"id": thread_id, "at": _STAMP},
                )
            placeholders = ", ".join(f":{name.strip()}" for name in _OLD_MESSAGE_COLUMNS.split(","))
            for row in _old_messages():
                await connection.execute(
                    text(f"INSERT INTO messages ({_OLD_MESSAGE_COLUMNS}) VALUES ({placeholders})"),  # noqa: S608
                    {**row, "created_at": _STAMP},
                )
    finally:
        await engine.dispose()


async def test_every_message_survives_and_each_thread_becomes_one_branch(
    database_url: str,
) -> None:
    await _seed_previous_release(database_url)
    store = await Store.open(Settings(database_url=database_url).database)  # upgrades to head
    try:
        for thread_id, count in (("old-1", 5), ("old-2", 2)):
            page = await store.messages.page(thread_id, MessageWindow(limit=100))
            expected = [row for row in _old_messages() if row["thread_id"] == thread_id]
            assert len(page.items) == count
            for message, old in zip(page.items, expected, strict=True):
                for name, value in old.items():
                    if name != "created_at":
                        assert getattr(message, name) == value, (thread_id, name)
                assert message.created_at == _STAMP
            assert [m.parent_id for m in page.items] == [None, *(m.id for m in page.items[:-1])]
        assert (await store.messages.page("old-empty", MessageWindow(limit=10))).items == []
        # The leaf is each thread's last message: a new turn continues after it.
        assert await _leaves(database_url) == {
            "old-1": "old-1-m5",
            "old-2": "old-2-m2",
            "old-empty": None,
        }
        # A new message continues the migrated branch.
        (added,) = await store.runs.append("old-1", "new-run", [NewMessage("user", "after")])
        assert (added.seq, added.parent_id) == (6, "old-1-m5")
    finally:
        await store.close()


async def _leaves(database_url: str) -> dict[str, str | None]:
    engine = create_engine(Settings(database_url=database_url).database)
    try:
        async with transaction(engine) as connection:
            rows = await connection.execute(text("SELECT id, leaf_message_id FROM threads"))
            return {row.id: row.leaf_message_id for row in rows}
    finally:
        await engine.dispose()
