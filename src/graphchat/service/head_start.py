"""A run's graph started while its begin is still being written.

On PostgreSQL, begin is one statement whose round trip, triggers and commit leave the event
loop waiting for most of its ~1 ms, and LangGraph's set-up up to the agent's first model request
takes ~0.4-0.7 ms of the loop. The store hands over the turn it is about to write
(`RunRepository.begin_turn`'s `on_write`) just before it sends the statement; the run is prepared
and its graph started at the loop's next step, once the statement has left, so that the round
trip starts first. No event and no row leave the process for a begin that failed or was retried.

The first model request waits until begin has returned that very turn, unless the store expects
the write to land (a new thread, or a thread as this process kept it while such writes keep
landing: store/window_cache.py) and nothing this process knows says otherwise (no run of the
thread executes here short of its final event, no Idempotency-Key to replay). Then the request
is sent at once, so the model works while the database commits; its reply is read meanwhile, but
its text is held until begin has returned. A begin that fails or misses all the same (another
replica changed the thread) cancels that request. When the caller streams the run, its first
token then goes out before LangGraph sets the run up (agent/opening.py).

A SQLite file is written on the event loop's own thread, so there is no round trip to fill: the
store announces only a write it expects to land, then waits (`until_waiting`) until the graph
has sent that request, and writes while the model works.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from graphchat.agent import BeforeStored
from graphchat.service.approvals import TurnSetup
from graphchat.service.turn import Turn, TurnRecorder
from graphchat.store.records import TurnStart


@dataclass(slots=True)
class PreparedRun:
    """A begun turn, ready to execute; with `graph`, its graph already runs (held)."""

    turn: Turn
    recorder: TurnRecorder
    setup: TurnSetup
    graph: asyncio.Task[None] | None = None
    early: BeforeStored | None = None  # how `graph` goes on before and once the turn is stored

    def release(self, run_task: asyncio.Task[None]) -> None:
        """Let the held graph go on; it ends with `run_task`, which awaits it."""
        if self.graph is None or self.early is None:
            return
        graph = self.graph
        run_task.add_done_callback(lambda _: graph.cancel())  # cancelled before it awaited it
        self.early.stored.set_result(None)


# The run's graph: its turn, recorder and setup, and how it starts before the turn is stored.
GraphRunner = Callable[[Turn, TurnRecorder, TurnSetup, BeforeStored], Coroutine[Any, Any, None]]


class HeadStart:
    """The store's `on_write` for one begin: prepares the run on the turn about to be written."""

    def __init__(
        self,
        prepare: Callable[[TurnStart], PreparedRun],
        run_graph: GraphRunner,
        *,
        may_ask_ahead: bool = False,  # what the service knows allows it (see the module)
        streamed: bool = False,  # the caller follows the run's events from its start
    ) -> None:
        self._prepare = prepare
        self._run_graph = run_graph
        self._may_ask_ahead = may_ask_ahead
        self._streamed = streamed
        self._held: tuple[TurnStart, PreparedRun] | None = None  # the turn and its graph
        self._announced: tuple[TurnStart, bool] | None = None  # not yet prepared
        self._preparing: asyncio.Handle | None = None

    def __call__(self, start: TurnStart, likely: bool) -> None:
        """The store's `WriteHook`: `likely` when it expects this write to land. The run is
        prepared at the event loop's next step: on PostgreSQL, once begin's statement has left,
        so that the round trip it waits on starts first."""
        self.drop()  # an earlier attempt's write failed or missed
        self._announced = (start, likely)
        self._preparing = asyncio.get_running_loop().call_soon(self._prepare_soon)

    def _prepare_soon(self) -> None:
        self._preparing = None
        # A failure is left to the service, which prepares the claimed turn again and raises it.
        with contextlib.suppress(Exception):
            self._prepare_announced()

    def _prepare_announced(self) -> None:
        """Prepare the run on the turn announced last, if not yet done, and start its graph."""
        if self._announced is None:
            return
        start, likely = self._announced
        self._announced = None
        prepared = self._prepare(start)
        turn = prepared.turn
        # The request's context (its request id), with the run's ids for the graph's log lines.
        context = contextvars.copy_context()
        context.run(
            structlog.contextvars.bind_contextvars,
            run_id=turn.run.id,
            thread_id=turn.thread.id,
            model=turn.run.model,
        )
        loop = asyncio.get_running_loop()
        early = BeforeStored(
            stored=loop.create_future(),
            waiting=loop.create_future(),
            ask_ahead=likely and self._may_ask_ahead,
            streamed=self._streamed,
        )
        graph = self._run_graph(turn, prepared.recorder, prepared.setup, early)
        prepared.graph = loop.create_task(graph, context=context)
        prepared.graph.add_done_callback(lambda _: early.about_to_wait())  # failed, say
        prepared.early = early
        self._held = (start, prepared)

    async def until_waiting(self) -> None:
        """The store's `WriteHook`: returns once the graph started on the last turn announced
        waits outside the event loop (its model request sent), or has ended."""
        self._prepare_announced()
        if self._held is not None and self._held[1].early is not None:
            await self._held[1].early.waiting

    def claim(self, start: TurnStart) -> PreparedRun | None:
        """The run prepared on `start`, if begin returned the turn it prepared."""
        self._prepare_announced()
        if self._held is not None and self._held[0] is start:
            prepared, self._held = self._held[1], None
            return prepared
        self.drop()
        return None

    def drop(self) -> None:
        """Stop the graph prepared on a turn that was not stored."""
        self._announced = None
        if self._preparing is not None:
            self._preparing.cancel()
            self._preparing = None
        held, self._held = self._held, None
        if held is not None and held[1].graph is not None:
            held[1].graph.cancel()
            # Whatever it raised, nobody waits for it: marked as seen, it is not logged.
            held[1].graph.add_done_callback(_seen)


def _seen(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
