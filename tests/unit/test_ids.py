"""Stored ids are version-7 UUIDs, made in increasing order (graphchat/ids.py)."""

from __future__ import annotations

import time
import uuid

from graphchat.ids import new_id


def test_an_id_is_a_canonical_version_7_uuid() -> None:
    made = new_id()

    parsed = uuid.UUID(made)
    assert str(parsed) == made
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_its_timestamp_is_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000

    assert before <= made.int >> 80 <= after


def test_ids_sort_in_the_order_they_were_made_within_and_across_milliseconds() -> None:
    made = []
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:  # several milliseconds, many ids in each
        made.append(new_id())

    assert len({uuid.UUID(made_id).int >> 80 for made_id in made}) > 1
    assert len(set(made)) == len(made)
    assert sorted(made) == made
