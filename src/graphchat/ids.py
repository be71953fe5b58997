"""The ids graphchat gives what it stores: threads, runs, messages, API keys.

UUIDs of version 7 (RFC 9562): a millisecond timestamp, then random bits, generated in increasing
order within the process. Every table keyed or indexed by one of them (the messages' primary key
and run index, the runs' and run events' keys, the threads') then grows at its right edge, as an
auto-increment key does, where random (version 4) ids land each new row on a random leaf page:
one the connection has to read in and the commit then writes out, and, on PostgreSQL, the first
change to a page after a checkpoint writes the whole page to the WAL. With these, a SQLite turn
on a database of 4,000 turns read 3.6 pages where it read 13.4, and wrote 31 WAL frames where it
wrote 35; a PostgreSQL turn wrote ~15 % less WAL (bench/analysis.md, round 45).

The ids stay opaque UUID strings to clients; only their order says when they were made.
"""

from __future__ import annotations

import uuid_utils


def new_id() -> str:
    """A new version-7 UUID, as a string."""
    return str(uuid_utils.uuid7())
