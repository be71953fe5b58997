"""The statements a store sends, described and counted: the plans of a turn (issue 14).

Shared by the store's statement tests and the API's, which count the same plans end to end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.db import sent_statements

from graphchat.store import Store

# The plans: one entry per statement, its writes joined by " + " (a read: verb and table).
BEGIN_EXISTING_THREAD = [
    "SELECT threads",  # the thread (its leaf), a paused run to close?, its last seq number
    "WITH branch",  # the context window: a walk up the branch from the leaf, whole rows
    "INSERT runs",
    "INSERT messages",  # every new message in one statement
    "UPDATE threads",  # updated_at, the leaf (and the title of an untitled thread)
]
# A thread this process answered last, still as it left it (store/known_turn.py): nothing read,
# the run and messages inserted only if the guarded UPDATE found the thread unchanged.
BEGIN_KNOWN_THREAD = ["UPDATE threads", "INSERT runs", "INSERT messages"]
BEGIN_NEW_THREAD = [
    "SELECT threads",
    "INSERT threads",  # created with its title and leaf: nothing to update
    "INSERT runs",
    "INSERT messages",
]
FINISH = [
    "UPDATE threads",  # touched, leaf moved; 0 rows means deleted meanwhile
    "INSERT messages",  # the reply (and any last tool messages)
    "UPDATE runs",  # status and usage
    "INSERT run_events",  # the run's unwritten events, one row per run
]
# PostgreSQL: the writes in one statement each (data-modifying CTEs), each statement its own
# transaction — a round trip per statement and no BEGIN/COMMIT.
POSTGRES_BEGIN_EXISTING_THREAD = [
    "SELECT threads",
    "WITH branch",
    "INSERT runs + INSERT messages + UPDATE threads",
]
# A thread this process answered last, still as it left it (store/known_turn.py): its run and
# messages inserted from the UPDATE of the thread, which holds only if the thread is unchanged.
POSTGRES_BEGIN_KNOWN_THREAD = ["UPDATE threads + INSERT runs + INSERT messages"]
# A new thread's messages are given its owner (their owner trigger cannot see the thread
# inserted beside them): the thread, its run and its messages in one statement too.
POSTGRES_BEGIN_NEW_THREAD = ["SELECT threads", "INSERT threads + INSERT runs + INSERT messages"]
# A thread whose id graphchat made for the turn (none given): nothing to read first.
POSTGRES_BEGIN_NAMED_HERE = POSTGRES_BEGIN_NEW_THREAD[1:]
POSTGRES_FINISH = ["UPDATE runs + UPDATE threads + INSERT messages + INSERT run_events"]
APPEND = ["INSERT messages", "UPDATE threads"]  # a run's tool call and result, the leaf moved
POSTGRES_APPEND = ["INSERT messages + UPDATE threads"]
_WRITE = re.compile(r"\b(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)
_READ = re.compile(r"^\s*(SELECT|WITH RECURSIVE)\s", re.IGNORECASE)
_TABLE = re.compile(r"(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def described_statement(statement: str) -> str:
    writes = _WRITE.findall(statement)
    if writes:
        return " + ".join(f"{verb.split()[0].upper()} {table}" for verb, table in writes)
    read = _READ.match(statement)
    if read is None:
        return statement.split()[0].upper()
    tables = _TABLE.findall(statement)  # the outer FROM comes after any subquery's
    return f"{read.group(1).split()[0].upper()} {tables[-1] if tables else '?'}"


@contextmanager
def recorded(store: Store) -> Iterator[list[str]]:
    """Each statement sent to the database, described; BEGIN/COMMIT are not counted.

    A statement sent outside a transaction (autocommit, or awaited on the driver's connection,
    store/awaited.py) is marked "(alone)"."""
    described: list[str] = []
    with sent_statements(store.engine) as seen:
        yield described
    for sent in seen:
        options = sent.connection.get_execution_options()
        autocommit = options.get("isolation_level") == "AUTOCOMMIT"
        # SQLite's writes are in transactions its file's engines begin on the driver.
        postgres = sent.connection.dialect.name == "postgresql"
        alone = autocommit or (postgres and not sent.connection.in_transaction())
        described.append(described_statement(sent.statement) + (" (alone)" if alone else ""))
