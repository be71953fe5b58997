"""The windows a process keeps of its own turns are the windows the database holds.

Two stores on one database stand for two replicas: each begin's window must equal the
thread's window read from the database, whoever wrote the turns before it.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

from graphchat.store import Store
from graphchat.store.messages import message_rows
from graphchat.store.records import (
    Message,
    NewMessage,
    NewRun,
    NewThread,
    RunOutcome,
    RunStatus,
    Tail,
    Thread,
    TurnRules,
)
from graphchat.store.window_cache import WindowCache

RULES = TurnRules(model=lambda thread_model: thread_model or "m", title=lambda title, _: title)
HISTORY = 4
_numbers = itertools.count()


async def _turn(
    store: Store, thread_id: str, *, tool: bool = False, ids: tuple[str, str] | None = None
) -> list[Message]:
    """One turn with its own texts (a tool call and its result first when `tool`; the question
    and answer with the given `ids`); returns the window the turn began with."""
    number = next(_numbers)
    question_id, answer_id = ids or (None, None)
    run = NewRun(
        id=f"r{number}", owner="o", thread_id=thread_id, model=None, params={}, worker_id="w"
    )
    question = NewMessage(role="user", content=f"question {number}", id=question_id)
    start = await store.runs.begin_turn(run, [question], RULES, history=HISTORY)
    tail = start.tail
    if tool:
        call = NewMessage(role="assistant", content="", tool_calls=[{"id": f"c{number}"}])
        result = NewMessage(role="tool", content=f"result {number}", tool_call_id=f"c{number}")
        appended = await store.runs.append(thread_id, run.id, [call, result], tail)
        tail = Tail(appended[-1].seq, appended[-1].id)
    answer = NewMessage(role="assistant", content=f"answer {number}", id=answer_id)
    reply = message_rows(thread_id, run.id, [answer], tail)
    assert await store.runs.finish(thread_id, run.id, RunOutcome(RunStatus.SUCCESS, 1, 1), reply)
    return start.history


async def _stored_window(store: Store, thread_id: str) -> list[Message]:
    return await store.messages.recent(thread_id, HISTORY)


def _begun(window: list[Message], stored_before: list[Message]) -> list[Message]:
    """The window a turn should begin with: the stored window, then the turn's question."""
    return (stored_before + window[-1:])[-HISTORY:]


async def test_each_turn_begins_with_the_stored_window_whichever_replica_wrote_before(
    store: Store, replica: Store
) -> None:
    first, second = store, replica
    writers = [first, first, second, first, first, second, second, first, first]
    for number, writer in enumerate(writers):
        stored_before = await first.messages.recent("t", HISTORY)

        window = await _turn(writer, "t", tool=number % 3 == 1)

        assert window[-1].content.startswith("question")
        assert window == _begun(window, stored_before)


async def test_a_thread_deleted_and_created_again_with_the_same_ids_is_read_again(
    store: Store, replica: Store
) -> None:
    first, second = store, replica
    await _turn(first, "t", ids=("q1", "a1"))
    await second.threads.delete("o", "t")
    await second.threads.create(NewThread(id="t", owner="o"))
    await _turn(second, "t", ids=("q1", "a1"))  # the same leaf id, other texts
    stored_before = await first.messages.recent("t", HISTORY)

    window = await _turn(first, "t")

    assert window == _begun(window, stored_before)


def _message(number: int, parent: str | None, thread_id: str = "t") -> Message:
    return Message(
        role="user",
        content=str(number),
        id=f"m{number}",
        thread_id=thread_id,
        seq=number,
        created_at=CREATED,
        parent_id=parent,
    )


CREATED = datetime(2026, 12, 1, tzinfo=UTC)
THREAD = Thread(
    id="t", owner="o", title=None, model=None, metadata={}, created_at=CREATED, updated_at=CREATED
)


def _chain(first: int, last: int) -> list[Message]:
    return [_message(n, f"m{n - 1}" if n > 1 else None) for n in range(first, last + 1)]


def test_a_kept_window_is_given_for_its_last_message_and_no_other_thread_or_creation() -> None:
    cache = WindowCache()
    cache.start(THREAD, _chain(1, 3), limit=3)

    assert cache.get("t", CREATED, "m3", 2) == _chain(2, 3)
    assert cache.get("t", CREATED, "m2", 2) is None
    assert cache.get("other", CREATED, "m3", 2) is None
    assert cache.get("t", datetime(2026, 12, 2, tzinfo=UTC), "m3", 2) is None


def test_a_window_shorter_than_asked_is_given_only_from_the_threads_first_message() -> None:
    cache = WindowCache()
    cache.start(THREAD, _chain(1, 2), limit=5)
    cache.start(THREAD, _chain(4, 5), limit=2)

    assert cache.get("t", CREATED, "m2", 5) == _chain(1, 2)
    assert cache.get("t", CREATED, "m5", 5) is None


def test_messages_that_follow_a_kept_window_extend_it_to_its_limit() -> None:
    cache = WindowCache()
    cache.start(THREAD, _chain(1, 3), limit=3)
    cache.extend(_chain(4, 5))

    assert cache.get("t", CREATED, "m5", 3) == _chain(3, 5)
    assert cache.get("t", CREATED, "m3", 3) is None  # replaced by the window grown from it


def test_messages_that_do_not_follow_one_another_are_not_kept() -> None:
    cache = WindowCache()
    cache.start(THREAD, _chain(1, 3), limit=3)
    cache.extend([_message(4, "m3"), _message(5, "m3")])

    assert cache.get("t", CREATED, "m5", 3) is None


def test_the_least_recently_used_windows_go_first() -> None:
    cache = WindowCache(size=2)
    for number in (1, 2, 3):
        cache.start(THREAD, [_message(number, None)], limit=1)

    assert cache.get("t", CREATED, "m1", 1) is None
    assert cache.get("t", CREATED, "m3", 1) == [_message(3, None)]


def test_the_oldest_windows_go_past_the_text_budget_and_one_over_it_alone_is_not_kept() -> None:
    cache = WindowCache(text=3 * (256 + 1))  # three one-message windows of one character
    for number in (1, 2, 3, 4):
        cache.start(THREAD, [_message(number, None)], limit=1)
    cache.start(THREAD, [replace(_message(5, None), content="x" * 10_000)], limit=1)

    assert cache.get("t", CREATED, "m1", 1) is None
    assert cache.get("t", CREATED, "m4", 1) == [_message(4, None)]
    assert cache.get("t", CREATED, "m5", 1) is None  # alone over the budget: not kept


def test_a_window_extended_turn_after_turn_counts_only_the_text_it_holds() -> None:
    cache = WindowCache(text=3 * 256 + len("373839"))  # room for the last window alone
    cache.start(THREAD, _chain(1, 3), limit=3)
    for last in range(5, 40, 2):  # two messages a turn, the oldest two leave
        cache.extend(_chain(last - 1, last))

    assert cache.get("t", CREATED, "m39", 3) == _chain(37, 39)  # counted as 3 messages, not 39
    cache.start(THREAD, [_message(1, None, thread_id="other")], limit=1)
    assert cache.get("t", CREATED, "m39", 3) is None  # and no fewer: a fourth pushes it out


def test_a_window_begun_turn_after_turn_counts_only_the_text_it_holds() -> None:
    # As turns keep windows: begin keeps the last one and the user's message (passing on the very
    # records kept), finish extends it with the reply. Counted from the window each continues.
    cache = WindowCache(text=3 * 256 + len("373839"))  # room for the last window alone
    cache.start(THREAD, _chain(1, 3), limit=3)
    for last in range(5, 40, 2):
        kept = cache.get("t", CREATED, f"m{last - 2}", 3)
        assert kept is not None
        cache.start(THREAD, [*kept, _message(last - 1, f"m{last - 2}")], limit=3)
        cache.extend([_message(last, f"m{last - 1}")])

    assert cache.get("t", CREATED, "m39", 3) == _chain(37, 39)  # counted as 3 messages, not 39
    cache.start(THREAD, [_message(1, None, thread_id="other")], limit=1)
    assert cache.get("t", CREATED, "m39", 3) is None  # and no fewer: a fourth pushes it out


def test_the_latest_window_of_a_thread_is_given_with_the_thread_as_kept() -> None:
    cache = WindowCache()
    renamed = replace(THREAD, title="renamed")
    cache.start(THREAD, _chain(1, 3), limit=3)
    cache.start(renamed, _chain(4, 5), limit=2)  # a later turn, on another branch

    assert cache.latest("t", 2) == (renamed, _chain(4, 5))
    assert cache.latest("t", 3) is None  # kept shorter than asked
    assert cache.latest("other", 1) is None
    cache.extend(_chain(6, 7))
    assert cache.latest("t", 2) == (renamed, _chain(6, 7))


def test_a_thread_has_no_latest_window_once_it_is_pushed_out_or_a_turn_kept_none() -> None:
    cache = WindowCache(size=2)
    cache.start(THREAD, _chain(1, 1), limit=1)
    cache.start(THREAD, [_message(2, None, thread_id="u")], limit=1)
    cache.start(THREAD, [_message(3, None, thread_id="v")], limit=1)

    assert cache.latest("t", 1) is None  # pushed out
    assert cache.latest("v", 1) == (THREAD, [_message(3, None, thread_id="v")])
    cache.start(replace(THREAD, id="v"), [], limit=1)  # a turn whose window is not kept
    assert cache.latest("v", 1) is None
