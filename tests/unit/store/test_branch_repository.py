"""The branch repository: a thread's messages by owner, the user message a reply answers,
siblings, switching the leaf (refused while a run holds it), and the paths to checkpoints.

Most tests read the thread of `support.conversations.Forked` (alice's thread "t"; "u" is a copy):

    1 user ─ 2 assistant ┬ 3 user ─ 4 assistant (tool call) ─ 5 tool ─ 6 assistant
                         └ 7 user ┬ 8 assistant
                                  └ 9 assistant (the leaf)
"""

from __future__ import annotations

import pytest

from graphchat.errors import InvalidRequest, NotFound, ThreadBusy
from graphchat.store import Store
from graphchat.store.branch_repository import CheckpointPaths
from graphchat.store.branches import Siblings
from graphchat.store.records import (
    Message,
    MessageWindow,
    NewMessage,
    NewRun,
    RunOutcome,
    RunStatus,
    Tail,
    TurnRules,
)
from support.conversations import Forked, chain, forked, thread_record

RULES = TurnRules(model=lambda model: model, title=lambda title, _messages: title)
EVERY_END = [9, 8, 7, 6, 3, 2, 1]  # the messages that end a state, newest first


@pytest.fixture
async def tree(store: Store) -> Forked:
    conversation = forked("t")
    await store.archive.insert_conversation(
        thread_record("t"), conversation.messages, conversation.leaf.id
    )
    other = forked("u")  # the same shape in another thread of alice's
    await store.archive.insert_conversation(thread_record("u"), other.messages, other.leaf.id)
    return conversation


async def _current_branch(store: Store, thread_id: str = "t") -> list[int]:
    page = await store.messages.page(thread_id, MessageWindow(limit=50))
    return [message.seq for message in page.items]


async def _other_thread(store: Store) -> list[Message]:
    """The messages of "u", the same shape as "t" under other ids."""
    return (await store.archive.conversation("u"))[0]


def _seqs(tree: Forked, found: CheckpointPaths) -> tuple[list[list[int]], set[int]]:
    """The paths and the current branch's messages as sequence numbers of `tree`."""
    seq_of = {message.id: message.seq for message in tree.messages}
    paths = [[message.seq for message in path] for path in found.paths]
    return paths, {seq_of[message_id] for message_id in found.current}


async def test_a_message_is_read_from_its_owners_thread_only(store: Store, tree: Forked) -> None:
    assert await store.branches.message("alice", "t", tree[4].id) == tree[4]

    with pytest.raises(NotFound) as other_owner:
        await store.branches.message("bob", "t", tree[4].id)
    with pytest.raises(NotFound) as other_thread:
        await store.branches.message("alice", "u", tree[4].id)

    assert other_owner.value.code == "thread_not_found"
    assert other_thread.value.code == "message_not_found"


@pytest.mark.parametrize(("seq", "answered"), [(6, 3), (5, 3), (9, 7), (8, 7), (7, 7), (2, 1)])
async def test_a_reply_answers_the_nearest_user_message_above_it(
    store: Store, tree: Forked, seq: int, answered: int
) -> None:
    assert await store.branches.answered("t", tree[seq].id) == tree[answered]


async def test_a_message_under_no_user_message_answers_nothing(store: Store, tree: Forked) -> None:
    greeting = chain("g", Tail(0, None), [("assistant", "welcome")])
    await store.archive.insert_conversation(thread_record("g"), greeting)

    for thread_id, message_id in (("g", greeting[0].id), ("u", tree[6].id), ("t", "unknown")):
        with pytest.raises(InvalidRequest) as refused:
            await store.branches.answered(thread_id, message_id)
        assert refused.value.code == "not_regenerable"


async def test_siblings_are_the_children_of_each_messages_parent_oldest_first(
    store: Store, tree: Forked
) -> None:
    found = await store.branches.siblings("t", tree.messages)

    ids = {message.seq: message.id for message in tree.messages}
    assert found == {
        None: _siblings(tree, 1),
        ids[1]: _siblings(tree, 2),
        ids[2]: _siblings(tree, 3, 7),
        ids[3]: _siblings(tree, 4),
        ids[4]: _siblings(tree, 5),
        ids[5]: _siblings(tree, 6),
        ids[7]: _siblings(tree, 8, 9),
    }


async def test_siblings_are_looked_up_only_for_the_messages_given_and_in_their_thread(
    store: Store, tree: Forked
) -> None:
    found = await store.branches.siblings("t", [tree[1], tree[9]])

    assert found == {None: _siblings(tree, 1), tree[7].id: _siblings(tree, 8, 9)}
    assert await store.branches.siblings("t", []) == {}
    assert await store.branches.siblings("u", [tree[9]]) == {}  # "u" has other ids


def _siblings(tree: Forked, *seqs: int) -> Siblings:
    return Siblings(tuple(tree[seq].id for seq in seqs))


async def test_switching_shows_the_branch_through_the_message(store: Store, tree: Forked) -> None:
    assert await store.branches.switch("alice", "t", tree[4].id, descend=False) == tree[4].id
    assert await _current_branch(store) == [1, 2, 3, 4]

    assert await store.branches.switch("alice", "t", tree[8].id, descend=False) == tree[8].id
    assert await _current_branch(store) == [1, 2, 7, 8]
    assert await _current_branch(store, "u") == [1, 2, 7, 9]


@pytest.mark.parametrize(("seq", "newest"), [(3, 6), (4, 6), (7, 9), (2, 9), (1, 9), (8, 8)])
async def test_descend_goes_down_to_the_newest_descendant(
    store: Store, tree: Forked, seq: int, newest: int
) -> None:
    await store.branches.switch("alice", "t", tree[8].id, descend=False)

    leaf = await store.branches.switch("alice", "t", tree[seq].id, descend=True)

    assert leaf == tree[newest].id
    assert await _current_branch(store) == tree.branch(newest)


async def test_switching_to_a_message_not_in_the_thread_is_refused(
    store: Store, tree: Forked
) -> None:
    other_thread = await _other_thread(store)
    for message_id in ("unknown", other_thread[0].id):
        with pytest.raises(NotFound) as refused:
            await store.branches.switch("alice", "t", message_id, descend=True)
        assert refused.value.code == "message_not_found"

    with pytest.raises(NotFound) as not_theirs:
        await store.branches.switch("bob", "t", tree[4].id, descend=False)
    assert not_theirs.value.code == "thread_not_found"
    assert await _current_branch(store) == [1, 2, 7, 9]


async def _begin_turn(store: Store) -> Tail:
    run = NewRun(id="r1", thread_id="t", owner="alice", model=None, params={}, worker_id="w")
    start = await store.runs.begin_turn(run, [NewMessage(role="user", content="more")], RULES)
    return start.tail


async def test_switching_is_refused_while_a_run_answers_on_the_thread(
    store: Store, tree: Forked
) -> None:
    await _begin_turn(store)

    with pytest.raises(ThreadBusy):
        await store.branches.switch("alice", "t", tree[4].id, descend=False)
    assert await _current_branch(store) == [1, 2, 7, 9, 10]
    other_thread = await _other_thread(store)
    await store.branches.switch("alice", "u", other_thread[3].id, descend=False)
    assert await _current_branch(store, "u") == [1, 2, 3, 4]


async def test_switching_is_refused_while_a_run_waits_for_approval_and_allowed_after(
    store: Store, tree: Forked
) -> None:
    await _begin_turn(store)
    paused = RunOutcome(RunStatus.REQUIRES_ACTION, pending={"tool_calls": []})
    assert await store.runs.finish("t", "r1", paused)

    with pytest.raises(ThreadBusy):
        await store.branches.switch("alice", "t", tree[4].id, descend=False)

    assert await store.runs.cancel_pause(await store.runs.get("alice", "t", "r1"))
    await store.branches.switch("alice", "t", tree[4].id, descend=False)
    assert await _current_branch(store) == [1, 2, 3, 4]


async def test_a_finished_run_does_not_hold_the_leaf(store: Store, tree: Forked) -> None:
    await _begin_turn(store)
    assert await store.runs.finish("t", "r1", RunOutcome(RunStatus.SUCCESS))

    await store.branches.switch("alice", "t", tree[3].id, descend=True)

    assert await _current_branch(store) == [1, 2, 3, 4, 5, 6]


async def test_checkpoint_paths_lead_to_every_state_end_of_every_branch_newest_first(
    store: Store, tree: Forked
) -> None:
    found = await store.branches.checkpoint_paths("t", 20, 50, before=None, at=None)

    paths, current = _seqs(tree, found)
    assert paths == [tree.branch(end) for end in EVERY_END]
    assert current == {1, 2, 7, 9}


async def test_a_message_with_a_reply_ends_a_state_even_when_its_side_goes_on(
    store: Store,
) -> None:
    """1 user ┬ 2 user ─ 3 assistant   (two questions answered together)
    └ 4 assistant            (the first answered alone, on another branch)"""
    both = chain("s", Tail(0, None), [("user", "a"), ("user", "b"), ("assistant", "a and b")])
    alone = chain("s", Tail(3, both[0].id), [("assistant", "a alone")])
    await store.archive.insert_conversation(thread_record("s"), [*both, *alone], alone[0].id)

    found = await store.branches.checkpoint_paths("s", 20, 50, before=None, at=None)

    seq_of = {message.id: message.seq for message in [*both, *alone]}
    assert [[seq_of[m.id] for m in path] for path in found.paths] == [
        [1, 4],
        [1, 2, 3],
        [1, 2],
        [1],
    ]
    assert found.current == {both[0].id, alone[0].id}


@pytest.mark.parametrize(
    ("limit", "before", "at", "ends"),
    [
        (3, None, None, [9, 8, 7]),
        (20, 7, None, [6, 3, 2, 1]),
        (2, 9, None, [8, 7]),
        (20, None, 6, [6]),
        (20, None, 5, []),  # a tool result is inside a state, not its end
        (20, None, 4, []),  # so is the tool call
        (20, 1, None, []),
    ],
)
async def test_checkpoint_paths_keep_to_their_limit_and_numbers(
    store: Store, tree: Forked, limit: int, before: int | None, at: int | None, ends: list[int]
) -> None:
    found = await store.branches.checkpoint_paths("t", limit, 50, before=before, at=at)

    assert _seqs(tree, found)[0] == [tree.branch(end) for end in ends]


async def test_checkpoint_paths_end_with_their_last_depth_messages(
    store: Store, tree: Forked
) -> None:
    found = await store.branches.checkpoint_paths("t", 20, 2, before=None, at=None)

    paths, current = _seqs(tree, found)
    assert paths == [tree.branch(end)[-2:] for end in EVERY_END]
    assert current == {7, 9}


async def test_the_current_branch_follows_a_switch_beyond_the_page(
    store: Store, tree: Forked
) -> None:
    await store.branches.switch("alice", "t", tree[8].id, descend=False)

    found = await store.branches.checkpoint_paths("t", 1, 50, before=7, at=None)

    assert _seqs(tree, found) == ([[1, 2, 3, 4, 5, 6]], {1, 2, 7, 8})


async def test_a_thread_without_messages_has_no_checkpoint_paths(
    store: Store, tree: Forked
) -> None:
    await store.archive.insert_conversation(thread_record("empty"), [])

    for thread_id in ("empty", "unknown"):
        found = await store.branches.checkpoint_paths(thread_id, 20, 50, before=None, at=None)
        assert found == CheckpointPaths([], frozenset())
