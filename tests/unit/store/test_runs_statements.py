"""The statements of a turn are counted, so that round trips cannot creep back (issue 14).

On SQLite begin and finish are one transaction each; every statement is one round trip
(multi-row INSERTs, no read-back of what was just written). On PostgreSQL their writes are one
statement each and no statement waits for a BEGIN or a COMMIT.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.db import sent_statements

from graphchat.settings import Settings
from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import NewMessage, NewRun, RunEvent, RunOutcome, RunStatus, TurnRules

# The plans: one entry per statement, its writes joined by " + " (a read: verb and table).
BEGIN_EXISTING_THREAD = [
    "SELECT threads",  # the thread (its leaf), a paused run to close?, its last seq number
    "WITH branch",  # the context window: a walk up the branch from the leaf, whole rows
    "INSERT runs",
    "INSERT messages",  # every new message in one statement
    "UPDATE threads",  # updated_at, the leaf (and the title of an untitled thread)
]
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
# A new thread's messages are given its owner (their owner trigger cannot see the thread
# inserted beside them): the thread, its run and its messages in one statement too.
POSTGRES_BEGIN_NEW_THREAD = ["SELECT threads", "INSERT threads + INSERT runs + INSERT messages"]
POSTGRES_FINISH = ["UPDATE runs + UPDATE threads + INSERT messages + INSERT run_events"]
APPEND = ["INSERT messages", "UPDATE threads"]  # a run's tool call and result, the leaf moved
POSTGRES_APPEND = ["INSERT messages + UPDATE threads"]
RULES = TurnRules(model=lambda thread_model: thread_model or "m", title=lambda title, _: title)
_WRITE = re.compile(r"\b(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)
_READ = re.compile(r"^\s*(SELECT|WITH RECURSIVE)\s", re.IGNORECASE)
_TABLE = re.compile(r"(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def _described(statement: str) -> str:
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

    A statement sent outside a transaction (autocommit) is marked "(alone)"."""
    described: list[str] = []
    with sent_statements(store.engine) as seen:
        yield described
    for sent in seen:
        options = sent.connection.get_execution_options()
        alone = options.get("isolation_level") == "AUTOCOMMIT"
        described.append(_described(sent.statement) + (" (alone)" if alone else ""))


def new_run(thread_id: str, run_id: str) -> NewRun:
    return NewRun(id=run_id, owner="o", thread_id=thread_id, model=None, params={}, worker_id="w")


async def _turn(store: Store, thread_id: str, run_id: str) -> list[str]:
    """Begin and finish one turn; returns the statements of begin and then of finish."""
    with recorded(store) as begin:
        start = await store.runs.begin_turn(
            new_run(thread_id, run_id),
            [NewMessage(role="user", content="hi"), NewMessage(role="user", content="again")],
            RULES,
            history=50,
        )
    reply = message_rows(
        thread_id, run_id, [NewMessage(role="assistant", content="yes")], start.tail
    )
    events = [RunEvent(run_id, seq, "token", {"text": "y"}) for seq in range(40)]
    with recorded(store) as finish:
        stored = await store.runs.finish(
            thread_id, run_id, RunOutcome(RunStatus.SUCCESS, 1, 1), reply, events
        )
    assert stored
    return begin + finish


def _alone(plan: list[str]) -> list[str]:
    return [statement + " (alone)" for statement in plan]


async def test_a_turn_on_a_new_thread_issues_the_planned_statements(store: Store) -> None:
    if store.engine.dialect.name == "postgresql":
        planned = _alone(POSTGRES_BEGIN_NEW_THREAD + POSTGRES_FINISH)
    else:
        planned = BEGIN_NEW_THREAD + FINISH

    assert await _turn(store, "t-new", "r1") == planned


def _existing_thread_plan(store: Store) -> list[str]:
    if store.engine.dialect.name == "postgresql":
        return _alone(POSTGRES_BEGIN_EXISTING_THREAD + POSTGRES_FINISH)
    return BEGIN_EXISTING_THREAD + FINISH


async def test_a_turn_after_another_replicas_turn_reads_the_window(
    store: Store, database_url: str
) -> None:
    other = await Store.open(Settings(database_url=database_url).database)
    try:
        await _turn(other, "t", "r1")
    finally:
        await other.close()

    assert await _turn(store, "t", "r2") == _existing_thread_plan(store)


async def test_a_turn_after_this_processs_turn_takes_the_window_it_kept(store: Store) -> None:
    await _turn(store, "t", "r1")

    planned = [
        statement for statement in _existing_thread_plan(store) if "WITH branch" not in statement
    ]
    assert await _turn(store, "t", "r2") == planned


async def test_a_runs_tool_messages_issue_the_planned_statements(store: Store) -> None:
    question = [NewMessage(role="user", content="hi")]
    start = await store.runs.begin_turn(new_run("t", "r1"), question, RULES, history=50)
    call = NewMessage(role="assistant", content="", tool_calls=[{"id": "c"}])
    result = NewMessage(role="tool", content="42", tool_call_id="c")
    planned = _alone(POSTGRES_APPEND) if store.engine.dialect.name == "postgresql" else APPEND

    with recorded(store) as seen:
        stored = await store.runs.append("t", "r1", [call, result], start.tail)

    assert seen == planned
    assert [m.content for m in await store.messages.recent("t", 5)] == ["hi", "", "42"]
    assert [m.parent_id for m in stored] == [start.tail.leaf_id, stored[0].id]


# docs/performance.md (from bench/analysis.md) tells these plans in a table: step, SQLite's
# statements, PostgreSQL's statements and round trips.
_DOC_ROWS = {
    "begin, existing thread": (BEGIN_EXISTING_THREAD, POSTGRES_BEGIN_EXISTING_THREAD),
    "begin, new thread": (BEGIN_NEW_THREAD, POSTGRES_BEGIN_NEW_THREAD),
    "finish": (FINISH, POSTGRES_FINISH),
    "a tool round (the run's call and its result)": (APPEND, POSTGRES_APPEND),
}


def _named(cell: str) -> list[str]:
    """The statements a cell names, reads and writes (its `code` spans that are statements)."""
    spans = re.findall(r"`([^`]+)`", cell)
    return [span for span in spans if re.match(r"(SELECT|INSERT|UPDATE) \w+", span)]


def _round_trips(plan: list[str]) -> str:
    """Round trips as the table states them: the window read only after another replica's
    turn; a transaction's BEGIN and COMMIT count. (A plan marks its statements "(alone)" only
    where some are sent in a transaction; the others are sent `_alone`.)"""
    in_transaction = any(statement.endswith("(alone)") for statement in plan)
    trips = len(plan) + (2 if in_transaction else 0)
    if "WITH branch" in plan:
        return f"{trips - 1}–{trips}"
    return str(trips)


def test_the_performance_doc_names_these_plans() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs/performance.md").read_text("utf-8")
    rows = {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in line.strip("| ").split("|")] for line in doc.splitlines())
        if cells[0] in _DOC_ROWS
    }

    assert rows.keys() == _DOC_ROWS.keys()
    for step, (sqlite_plan, postgres_plan) in _DOC_ROWS.items():
        sqlite_cell, postgres_cell = rows[step]
        counted = [s for s in sqlite_plan if s != "WITH branch"]
        assert [s for s in _named(sqlite_cell) if s != "SELECT messages"] == counted, step
        postgres = [s.removesuffix(" (alone)") for s in postgres_plan if s != "WITH branch"]
        assert _named(postgres_cell) == postgres, step
        stated = re.search(r": ([\d–]+) \(was", postgres_cell)
        assert stated is not None and stated.group(1) == _round_trips(postgres_plan), step
