"""Supervises the embedded model's worker process (`embedded_worker.py`).

One worker holds the one model instance; replies are generated one at a time and queue on a lock.
A worker that dies (SIGILL, SIGSEGV, SIGKILL, out of memory) fails the reply in progress with
`ProviderUnavailable` and is started again at once, then with a growing delay if it keeps dying.
A model that cannot load or cannot generate on this CPU is `failed`, with the reason, until a later
request tries again after the delay. The service itself never runs native model code.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import math
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from graphchat.errors import ContextTooLong, InvalidRequest, ProviderError, ProviderUnavailable

ProcessStatus = Literal["stopped", "starting", "ready", "restarting", "failed"]

_log = structlog.get_logger("graphchat.llm.embedded")
_STDERR_LINES = 20
_LINE_LIMIT = 1 << 20  # a token line is small; a megabyte leaves room for long error texts
_SIGNAL_HINTS = {
    signal.SIGILL: "illegal instruction: this CPU cannot run the llama.cpp build",
    signal.SIGKILL: "killed, e.g. by the out-of-memory killer",
    signal.SIGSEGV: "segmentation fault in native code",
    signal.SIGBUS: "bus error in native code",
    signal.SIGABRT: "aborted by native code",
}


@dataclass(frozen=True, slots=True)
class ProcessState:
    status: ProcessStatus
    reason: str | None = None
    restarts: int = 0
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before the next start after `failures` failed starts or crashes in a row."""

    first: float = 0.0
    base: float = 1.0
    ceiling: float = 60.0

    def delay(self, failures: int) -> float:
        if failures <= 1:
            return self.first
        return min(self.ceiling, self.base * 2.0 ** (failures - 2))


def exit_reason(returncode: int | None, stderr: collections.deque[str]) -> str:
    """A one-line account of how the worker ended."""
    if returncode is not None and returncode < 0:
        try:
            died_of = signal.Signals(-returncode)
        except ValueError:
            text = f"the model process died of signal {-returncode}"
        else:
            hint = _SIGNAL_HINTS.get(died_of)
            text = f"the model process died of {died_of.name}" + (f" ({hint})" if hint else "")
    else:
        text = f"the model process exited with status {returncode}"
    last = next((line for line in reversed(stderr) if line.strip()), None)
    return f"{text}; last output: {last.strip()[:200]}" if last else text


class _Crashed:
    """Put in the reply queue when the worker dies mid-reply."""


class ModelProcess:
    """The worker process and its state; `generate` streams one reply's protocol messages."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        start_timeout: float = 300.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._start_timeout = start_timeout
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._process: asyncio.subprocess.Process | None = None
        self._status: ProcessStatus = "stopped"
        self._reason: str | None = None
        self._restarts = 0
        self._failures = 0  # failed starts and crashes since the last reply that completed
        self._next_start = float("-inf")
        self._starting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._replies: dict[int, asyncio.Queue[dict[str, Any] | _Crashed]] = {}
        self._ids = itertools.count(1)
        self._turn = asyncio.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._closed = False

    @property
    def state(self) -> ProcessState:
        pid = self._process.pid if self._process and self._status == "ready" else None
        return ProcessState(self._status, self._reason, self._restarts, pid)

    def start_soon(self) -> None:
        """Begin loading in the background (start-up does not wait for the model)."""
        if self._starting is None and self._status in ("stopped", "restarting", "failed"):
            self._starting = asyncio.create_task(self._start(), name="embedded-model-start")

    async def wait_started(self, seconds: float) -> ProcessState:
        """Wait up to `seconds` for a start in progress; the state then."""
        if self._starting is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._starting), seconds)
        return self.state

    async def _ready(self) -> asyncio.subprocess.Process:
        """The running worker, started (or restarted) if its delay has passed."""
        if self._status != "ready" and self._starting is None:
            wait = self._next_start - self._clock()
            if wait > 0:
                raise ProviderUnavailable(
                    f"the embedded model is unavailable: {self._reason}",
                    retry_after=max(1, math.ceil(wait)),
                )
            self.start_soon()
        if self._starting is not None:
            await asyncio.shield(self._starting)
        if self._status != "ready" or self._process is None:
            raise ProviderUnavailable(f"the embedded model is unavailable: {self._reason}")
        return self._process

    async def _start(self) -> None:
        self._status = "starting" if self._restarts == 0 and self._failures == 0 else "restarting"
        try:
            await self._spawn()
        except ProviderError as exc:
            self._failed(exc.message, status="failed")
        finally:
            self._starting = None

    async def _spawn(self) -> None:
        self._stderr.clear()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "graphchat.llm.embedded_worker",
            json.dumps(self._config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        self._process = process
        self._spawn_task(self._drain_stderr(process))
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), self._start_timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ProviderUnavailable(
                f"the model did not load within {self._start_timeout:.0f}s"
            ) from None
        hello = json.loads(line) if line else {}
        if hello.get("type") != "ready":
            await process.wait()
            raise ProviderUnavailable(
                str(hello.get("reason") or exit_reason(process.returncode, self._stderr))
            )
        self._status, self._reason = "ready", None
        _log.info("embedded model ready", pid=process.pid, restarts=self._restarts)
        self._spawn_task(self._read_replies(process))

    def _failed(self, reason: str, *, status: ProcessStatus) -> None:
        self._failures += 1
        self._status, self._reason = status, reason
        self._next_start = self._clock() + self._backoff.delay(self._failures)
        _log.warning("embedded model unavailable", status=status, reason=reason)

    def _spawn_task(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:  # drained, or a chatty library would fill the pipe
            self._stderr.append(raw.decode("utf-8", "replace"))

    async def _read_replies(self, process: asyncio.subprocess.Process) -> None:
        """Hand each message to the reply it belongs to; on the worker's end, fail them all."""
        assert process.stdout is not None
        async for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            reply = self._replies.get(int(message.get("id", 0)))
            if reply is not None:
                reply.put_nowait(message)
        await process.wait()
        if self._process is not process or self._closed:
            return
        self._process = None
        self._failed(exit_reason(process.returncode, self._stderr), status="restarting")
        self._restarts += 1
        for reply in self._replies.values():
            reply.put_nowait(_Crashed())
        if self._clock() >= self._next_start:
            self.start_soon()  # ready for the next turn; later crashes wait for a request

    async def generate(
        self, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        """The worker's `token` messages for one reply, then its `done` message."""
        async with self._turn:  # one reply at a time on the one model instance
            process = await self._ready()
            request_id = next(self._ids)
            reply: asyncio.Queue[dict[str, Any] | _Crashed] = asyncio.Queue()
            self._replies[request_id] = reply
            if self._process is not process:  # died since `_ready`; the reader told the others
                reply.put_nowait(_Crashed())
            finished = False
            try:
                self._send(process, {"type": "generate", "id": request_id, "messages": messages,
                                     "options": options})  # fmt: skip
                while True:
                    message = await reply.get()
                    if isinstance(message, _Crashed):
                        raise ProviderUnavailable(
                            f"the embedded model stopped: {self._reason}", retry_after=1
                        )
                    if message["type"] == "error":
                        finished = True
                        _raise_worker_error(message)
                    yield message
                    if message["type"] == "done":
                        finished = True
                        self._failures = 0
                        return
            finally:
                del self._replies[request_id]
                if not finished and process.returncode is None:
                    # Stops generation between two tokens; the worker answers replies in order,
                    # so the next one waits for this `done`, which nobody reads.
                    self._send(process, {"type": "cancel", "id": request_id})

    def _send(self, process: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        assert process.stdin is not None
        with contextlib.suppress(ConnectionError):  # a dead worker is reported by the reader
            process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def close(self) -> None:
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, ProviderError):
                await self._starting
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()  # end of input: the worker finishes
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._status = "stopped"


def _raise_worker_error(message: dict[str, Any]) -> None:
    text = str(message.get("message", "unknown error"))
    if message.get("kind") == "context":
        raise ContextTooLong(
            f"the embedded model refused the request: {text}", newest_too_long=True
        )
    if message.get("kind") == "invalid":
        raise InvalidRequest(f"the embedded model refused the request: {text}")
    raise ProviderError(f"the embedded model failed: {text}")
