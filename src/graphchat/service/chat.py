"""The chat turn: store the caller's messages, run the agent in the background, record the reply."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import structlog

from graphchat.agent import BeforeStored, Decision, DeferredGraph, RunContext
from graphchat.agent.tools import ToolContext, ToolRegistry
from graphchat.errors import (
    DuplicateRun,
    GraphchatError,
    ProviderUnavailable,
    RunClosedElsewhere,
    RunNotPaused,
    StoreUnavailable,
    ThreadBusy,
    ValidationFailed,
)
from graphchat.ids import new_id
from graphchat.llm.base import (
    Usage,
)
from graphchat.service.approvals import TurnSetup, check_decisions, pause_record, setup_after_pause
from graphchat.service.context import MessageForms, build_context, fit_context
from graphchat.service.conversation import place_conversation
from graphchat.service.event_writer import EventWriter
from graphchat.service.head_start import HeadStart, PreparedRun
from graphchat.service.live import LiveRun, LiveRuns
from graphchat.service.runs import RunResult, RunService
from graphchat.service.titles import TitleWriter
from graphchat.service.tool_use import owner_message_search, turn_setup
from graphchat.service.turn import Turn, TurnRecorder
from graphchat.service.turn_request import (
    ModelResolver,
    RunStream,
    TurnLimits,
    TurnRequest,
    params_json,
    window_size,
)
from graphchat.service.turn_rules import turn_rules
from graphchat.store import Store
from graphchat.store.records import (
    NewRun,
    Run,
    RunStatus,
    Tail,
    TurnRules,
    TurnStart,
)

# The request and result types live in turn_request.py; callers import them from here too.
__all__ = ["ChatService", "ModelResolver", "RunStream", "TurnLimits", "TurnRequest"]

log = structlog.get_logger(__name__)

_BEGIN_ATTEMPTS = 1000  # enqueued turns loop once per finished run; the deadline bounds them


class ChatService:
    def __init__(
        self,
        store: Store,
        graph: DeferredGraph,
        live_runs: LiveRuns,
        limits: TurnLimits,
        models: ModelResolver,
        tools: ToolRegistry,
        *,
        runs: RunService,
        events: EventWriter,
        worker_id: str,
        enqueue_timeout: float,
        titles: TitleWriter | None = None,
    ) -> None:
        # A new thread's title is asked for once its first success is stored, before `end`.
        self._after_success = titles.after_reply if titles is not None else None
        self._store = store
        self._graph = graph
        self._live = live_runs
        self._limits = limits
        self._models = models
        self.tools = tools
        self._runs = runs
        self._events = events
        self.worker_id = worker_id
        self._enqueue_timeout = enqueue_timeout
        self._forms = MessageForms()  # the windows' messages in the model's form

    async def loaded(self) -> None:
        """Return once what a turn runs is loaded: the agent graph built (agent/deferred.py)."""
        await self._graph.ready()

    async def complete(self, request: TurnRequest) -> RunResult:
        """Run a turn to its end (or replay the run an Idempotency-Key names)."""
        try:
            turn = await self.wait(await self.start(request))
        except DuplicateRun as duplicate:
            return await self._runs.result(await self._original(duplicate, request))
        return RunResult(turn.run, turn.input_messages, turn.output_messages, turn.history)

    async def open_stream(self, request: TurnRequest) -> RunStream:
        """Start a turn and follow its events (or rejoin the run an Idempotency-Key names)."""
        try:
            turn = await self.start(request, streamed=True)
        except DuplicateRun as duplicate:
            run = await self._original(duplicate, request)
            return RunStream(run, await self._runs.input_messages(run), self._runs.follow(run))
        return RunStream(turn.run, turn.input_messages, turn.live.follow(), turn.history)

    async def place(self, request: TurnRequest, bind_to: str | None) -> TurnRequest:
        """Where a caller-held conversation is stored, and what of it (`place_conversation`)."""
        return await place_conversation(self._store, request, bind_to)

    async def launch(self, request: TurnRequest) -> Run:
        """Start a turn in the background (or find the run an Idempotency-Key names)."""
        try:
            return (await self.start(request)).run
        except DuplicateRun as duplicate:
            return await self._original(duplicate, request)

    async def complete_resume(self, run: Run, decisions: tuple[Decision, ...]) -> RunResult:
        """Resume a paused run and wait for its end (or its next pause)."""
        turn = await self.wait(await self.resume(run, decisions))
        return RunResult(turn.run, turn.input_messages, turn.output_messages)

    async def open_resume_stream(self, run: Run, decisions: tuple[Decision, ...]) -> RunStream:
        """Resume a paused run and follow its events from the resumption on."""
        turn = await self.resume(run, decisions)
        return RunStream(turn.run, turn.input_messages, turn.live.follow())

    async def _original(self, duplicate: DuplicateRun, request: TurnRequest) -> Run:
        run = await self._store.runs.by_id(duplicate.run_id)
        if run is None or run.request_hash != request.request_hash:
            raise ValidationFailed(
                "this Idempotency-Key was already used for a different request",
                code="idempotency_key_reused",
            )
        return run

    async def start(self, request: TurnRequest, *, streamed: bool = False) -> Turn:
        """Store the request's messages and a running run, then execute it in the background;
        `streamed` when the caller follows its events from the start.

        Shielded: a caller cancelled meanwhile must not leave a stored run that never executes.
        """
        return await asyncio.shield(self._start(request, streamed))

    async def _start(self, request: TurnRequest, streamed: bool) -> Turn:
        fallback = None if request.model else await self._models.default_model()
        run_id, thread_id = new_id(), request.thread_id or new_id()
        with self._live.starting(run_id, thread_id) as others:
            # Another turn of the thread here may refuse this one; a key, replay another run.
            may_ask_ahead = not others and request.idempotency_key is None
            head_start = HeadStart(
                lambda start: self._prepare(start, request),
                self._run_graph,
                may_ask_ahead=may_ask_ahead,
                streamed=streamed,
            )
            return await self._start_run(run_id, thread_id, request, fallback, head_start)

    async def _start_run(
        self,
        run_id: str,
        thread_id: str,
        request: TurnRequest,
        fallback: str | None,
        head_start: HeadStart,
    ) -> Turn:
        new_run = NewRun(
            id=run_id,
            owner=request.owner,
            thread_id=thread_id,
            model=request.model,
            params=params_json(request.params),
            worker_id=self.worker_id,
            idempotency_key=request.idempotency_key,
            request_hash=request.request_hash,
        )
        rules = turn_rules(request.model, fallback)
        try:
            start = await self._begin(new_run, request, rules, head_start)
        except BaseException:
            head_start.drop()
            raise
        prepared = head_start.claim(start) or self._prepare(start, request)
        turn = prepared.turn
        prepared.recorder.publish_metadata()
        self._live.start(turn.live, lambda _: self._execute(prepared))
        assert turn.live.task is not None
        prepared.release(turn.live.task)
        return turn

    def _prepare(self, start: TurnStart, request: TurnRequest) -> PreparedRun:
        turn = Turn(
            thread=start.thread,
            run=start.run,
            input_messages=start.messages,
            live=LiveRun(start.run.id, start.thread.id),
            tail=start.tail,
            history=start.history if request.context is None else None,
        )
        recorder = TurnRecorder(turn, self._store.runs, self._events, self._after_success)
        setup = turn_setup(
            self.tools, self._limits.require_approval, request, start.thread.metadata
        )
        return PreparedRun(turn, recorder, setup)

    async def resume(self, run: Run, decisions: tuple[Decision, ...]) -> Turn:
        """Continue a paused run with a person's decisions on its pending calls."""
        live = self._live.get(run.id)
        if live is not None:
            await live.settle()  # the pause is still being recorded in this process
        run = await self._store.runs.get(run.owner, run.thread_id, run.id)
        check_decisions(run, decisions)
        with self._live.starting(run.id, run.thread_id):
            return await self._resume_run(run, decisions)

    async def _resume_run(self, run: Run, decisions: tuple[Decision, ...]) -> Turn:
        if not await self._store.runs.resume(run, self.worker_id):
            raise RunNotPaused(f"run '{run.id}' was resumed or cancelled meanwhile")
        thread = await self._store.threads.get(run.owner, run.thread_id)
        live = LiveRun(run.id, thread.id, await self._store.run_events.next_seq(run.id))
        last = await self._store.messages.recent(thread.id, 1)
        turn = Turn(
            thread=thread,
            run=replace(run, status=RunStatus.RUNNING, pending=None),
            input_messages=[],
            live=live,
            tail=Tail(last[-1].seq, last[-1].id) if last else Tail(0, None),
            usage=Usage(run.prompt_tokens or 0, run.completion_tokens or 0),
        )
        recorder = TurnRecorder(turn, self._store.runs, self._events, self._after_success)
        recorder.publish_metadata()
        prepared = PreparedRun(turn, recorder, setup_after_pause(run, decisions))
        self._live.start(live, lambda _: self._execute(prepared))
        return turn

    async def _begin(
        self, run: NewRun, request: TurnRequest, rules: TurnRules, on_write: HeadStart
    ) -> TurnStart:
        """Begin the turn; on a busy thread reject, or wait (`enqueue`), or stop the other run."""
        deadline = asyncio.get_running_loop().time() + self._enqueue_timeout
        for _ in range(_BEGIN_ATTEMPTS):
            try:
                return await self._store.runs.begin_turn(
                    run,
                    request.messages,
                    rules,
                    create_thread=request.create_thread,
                    last_seq=request.after_seq,
                    leaf_at=request.continue_at,
                    # A caller-held conversation is the context: no stored history to read.
                    history=window_size(request, self._limits),
                    branch=request.branch_from,
                    new_thread_id=not request.thread_id,  # `_start_run` made it
                    on_write=on_write,
                )
            except ThreadBusy:
                on_write.drop()  # not held through a wait for the other run
                active = await self._store.runs.active(run.thread_id)
                if active is None:
                    continue  # it finished meanwhile
                if request.multitask == "reject":
                    raise
                if request.multitask == "interrupt":
                    await self._interrupt(active)
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    await self._runs.wait_final(active, within=max(remaining, 0.0))
                except TimeoutError:
                    raise ThreadBusy(
                        f"thread '{run.thread_id}' stayed busy for {self._enqueue_timeout:.0f}s"
                    ) from None
        raise ThreadBusy(f"thread '{run.thread_id}' is busy; try again")

    async def _interrupt(self, active: Run) -> None:
        if not await self._live.cancel(active.id, RunStatus.INTERRUPTED):
            await self._store.runs.request_cancel(active.id)

    async def wait(self, turn: Turn) -> Turn:
        """Wait until the turn has finished; raise its error if it failed."""
        final = await turn.live.wait()
        if turn.error is None and final.event == "error":  # ended without its own record
            turn.error = GraphchatError(str(final.data["error"]["message"]))
        if turn.error is not None:
            raise turn.error
        return turn

    async def _execute(self, prepared: PreparedRun) -> None:
        turn, recorder, setup = prepared.turn, prepared.recorder, prepared.setup
        ids = {"run_id": turn.run.id, "thread_id": turn.thread.id, "model": turn.run.model}
        # The run is its own task (its own context copy): every line below it, down to the model
        # calls, carries these ids besides the request id inherited from the request.
        structlog.contextvars.bind_contextvars(**ids)
        try:
            if prepared.graph is None:
                await self._run_graph(turn, recorder, setup)
            else:
                await prepared.graph
            if turn.approval is not None:
                await recorder.pause(
                    pause_record(turn.approval, recorder.last_assistant_id(), setup)
                )
            else:
                await recorder.succeed()
        except GraphchatError as exc:
            log.warning("run_failed", code=exc.code, error=exc.message)
            await recorder.fail_or_abandon(exc)
        except asyncio.CancelledError:
            log.info("run_cancelled")
            await asyncio.shield(recorder.cancel_or_abandon(turn.live.cancel_status))
            raise
        except Exception:
            log.exception("run_crashed")
            await recorder.fail_or_abandon(
                GraphchatError("the agent failed unexpectedly; see the server log")
            )
        finally:
            if not turn.live.all_written:  # a turn's finish usually wrote them all
                await asyncio.shield(self._persist_events(turn))

    async def _persist_events(self, turn: Turn) -> None:
        if isinstance(turn.error, RunClosedElsewhere):
            return  # the replica that closed the run wrote its last events
        try:
            await self._events.flush([turn.live])
        except StoreUnavailable as exc:
            log.warning("run_events_not_written", run_id=turn.run.id, error=exc.message)

    async def _run_graph(
        self,
        turn: Turn,
        recorder: TurnRecorder,
        setup: TurnSetup,
        early: BeforeStored | None = None,
    ) -> None:
        if not turn.run.model:
            raise ProviderUnavailable("no model is available: name one or configure a backend")
        system = setup.system if setup.system is not None else self._limits.system_prompt
        limits = self._limits
        if setup.context is not None:
            given = setup.context[-limits.context_max_messages :]
            window = fit_context(given, system, limits.context_max_tokens)
        else:
            history = turn.history
            if history is None:  # a resumed run: read where the thread stands now
                history = await self._store.messages.recent(
                    turn.thread.id, limits.context_max_messages
                )
            elif len(history) > limits.context_max_messages:  # read for the caller too
                history = history[len(history) - limits.context_max_messages :]
            window = build_context(history, system, limits.context_max_tokens, self._forms)
        state = {"messages": window, "tool_rounds": setup.tool_rounds}
        graph = await self._graph.ready()
        # The nodes hand their tokens and events to the recorder themselves: nothing streams
        # out of LangGraph, so it runs without its stream queue.
        await graph.ainvoke(
            {**state, "decisions": setup.decisions},
            # Each tool round is two graph steps (agent, tools), plus the final answer.
            {"recursion_limit": 2 * self._limits.max_tool_rounds + 5},
            context=self._run_context(turn, turn.run.model, setup, recorder, early),
        )

    def _run_context(
        self,
        turn: Turn,
        model: str,
        setup: TurnSetup,
        recorder: TurnRecorder,
        early: BeforeStored | None,
    ) -> RunContext:
        search = owner_message_search(self._store.messages, turn.run.owner, turn.run.id)
        tools = setup.client_tools
        if tools is None:
            tools = self.tools.specs(setup.tools)
        return RunContext(
            model=model,
            params=setup.params,
            tools=tools,
            run_tools=setup.client_tools is None,
            tool_choice=setup.tool_choice,
            response_format=setup.response_format,
            max_tool_rounds=self._limits.max_tool_rounds,
            tool_timeout=self._limits.tool_timeout,
            tool_context=ToolContext(
                owner=turn.run.owner, thread_id=turn.thread.id, search_messages=search
            ),
            require_approval=setup.require_approval,
            events=recorder,
            before_stored=early,
        )
