"""What a SQLite file's full-text index holds, read past the store (migration 0010)."""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url


def indexed(database_url: str, word: str) -> int:
    """How many messages the index of the SQLite file at `database_url` holds for `word`."""
    path = make_url(database_url).database
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        query = "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?"
        return int(connection.execute(query, (word,)).fetchone()[0])
    finally:
        connection.close()
