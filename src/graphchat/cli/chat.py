"""`graphchat chat`: an interactive chat in the terminal.

Replies stream as they are generated; on a real terminal the streamed text is shown live and then
replaced by its rendered Markdown. Input goes through `readline` (line editing, a history file,
Tab completion of slash commands). Ctrl-C during a reply stops it and cancels the run on the server.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.text import Text

from graphchat.cli.approve import ask_decisions
from graphchat.cli.ask import ModelOption, ThreadOption, stop_run
from graphchat.cli.chat_commands import COMMAND_NAMES, ChatState, run_command
from graphchat.cli.client import DEFAULT_URL, TurnOptions
from graphchat.cli.client_errors import ClientError
from graphchat.cli.connection import ApiKeyOption, UrlOption, connected
from graphchat.cli.reply_stream import Finished, Rejoining, ReplyStream, Token, ToolCalled

PROMPT = "you> "
_BUSY_WAIT_SECONDS = 30.0  # how long a new message waits for a stopped run to wind down


class _Tail:
    """The last lines of the streamed text that fit the screen, so live updates never scroll."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(Text(self.text), options.update(height=None), pad=False)
        for line in lines[-max(console.height - 2, 1) :]:
            yield from line
            yield Segment.line()


class ReplyView:
    """Shows one reply: live while it streams, as Markdown once complete (on a real terminal)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._parts: list[str] = []
        self._live: Live | None = None
        if console.is_interactive:
            self._live = Live(_Tail(""), console=console, transient=True, refresh_per_second=12)
            self._live.start()

    def add(self, text: str) -> None:
        self._parts.append(text)
        if self._live is not None:
            self._live.update(_Tail("".join(self._parts)))
        else:
            self._console.file.write(text)
            self._console.file.flush()

    def note(self, text: str) -> None:
        """A line about the reply (a tool being called), shown between its parts."""
        self.add(f"\n[{text}]\n")

    def status(self, text: str) -> None:
        """A line about the connection, printed apart from the reply's text."""
        if self._live is None and self._parts:
            self._console.file.write("\n")  # the reply's text so far ends its line
        self._console.print(f"({text})", style="dim", markup=False, highlight=False)

    def close(self, footer: str | None = None) -> None:
        """Ends the live view; prints the Markdown (real terminals) and the footer, if any."""
        text = "".join(self._parts)
        if self._live is not None:
            self._live.stop()
            self._live = None
            if text.strip():
                from rich.markdown import Markdown  # Markdown's parser: ~20 ms every command loads

                self._console.print(Markdown(text))
        elif text:
            self._console.file.write("\n")
        if footer:
            self._console.print(footer, style="dim", markup=False, highlight=False)


def _footer(finished: Finished | None) -> str | None:
    if finished is None or finished.status == "cancelled":
        return "[stopped]"
    if finished.status == "requires_action":
        return "[waiting for your approval]"
    if finished.finish_reason == "length":
        return "[cut short: max_tokens reached]"
    return None


def follow_reply(state: ChatState, opened: contextlib.AbstractContextManager[ReplyStream]) -> None:
    """Shows a streamed reply; a run that waits for approval asks here, then goes on."""
    finished = _show_stream(state, opened)
    while finished is not None and finished.pending and finished.thread_id and finished.run_id:
        decisions = ask_decisions(state.console, finished.pending)
        if decisions is None:
            state.console.print("[left waiting: a new message moves on]", style="dim")
            return
        resumed = state.client.resume(finished.thread_id, finished.run_id, decisions)
        finished = _show_stream(state, resumed)


def _show_stream(
    state: ChatState, opened: contextlib.AbstractContextManager[ReplyStream]
) -> Finished | None:
    """Shows one streamed reply; returns how it ended (None if stopped)."""
    reply: ReplyStream | None = None
    view: ReplyView | None = None
    finished: Finished | None = None
    try:
        with opened as reply:
            if state.thread_id is None and reply.thread_id:
                state.console.print(f"(new thread {reply.thread_id})", style="dim")
            state.thread_id = reply.thread_id or state.thread_id
            view = ReplyView(state.console)
            for item in reply:
                if isinstance(item, Token):
                    view.add(item.text)
                elif isinstance(item, ToolCalled):
                    view.note(f"calling {item.name}")
                elif isinstance(item, Rejoining):
                    view.status("connection lost: rejoining the reply…")
                else:
                    finished = item
    except KeyboardInterrupt:
        stop_run(state.client, reply)
        if view is None:
            state.console.print("[stopped]", style="dim", markup=False)
        return None
    finally:
        if view is not None:
            view.close(_footer(finished))
    return finished


def send(state: ChatState, text: str) -> None:
    """One turn; a thread still busy with a stopped reply is waited for, briefly."""
    deadline = time.monotonic() + _BUSY_WAIT_SECONDS
    while True:
        try:
            opened = state.client.stream(text, thread_id=state.thread_id, options=state.options)
            follow_reply(state, opened)
            return
        except ClientError as exc:
            if exc.code != "thread_busy" or time.monotonic() > deadline:
                raise
            state.console.print("(waiting for the previous reply to finish…)", style="dim")
            time.sleep(0.5)


def _history_file() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "graphchat" / "chat_history"


class _LineEditor:
    """`readline` when available: history kept across sessions, Tab completes slash commands."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            import readline
        except ImportError:  # e.g. Windows without pyreadline: plain input() still works
            self._readline = None
            return
        self._readline = readline
        readline.set_history_length(1000)
        readline.set_completer(self._complete)
        readline.set_completer_delims(" ")
        readline.parse_and_bind("tab: complete")
        with contextlib.suppress(OSError):  # first run, or an unreadable file: no history
            readline.read_history_file(path)

    def _complete(self, prefix: str, index: int) -> str | None:
        matches = [name for name in COMMAND_NAMES if name.startswith(prefix)]
        return matches[index] if index < len(matches) else None

    def save(self) -> None:
        if self._readline is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._readline.write_history_file(self._path)
        except OSError:
            pass  # history is a convenience; never fail the chat over it


def _handle(state: ChatState, line: str) -> None:
    if line.startswith("/") and not line.startswith("//"):
        run_command(state, line)
        return
    try:
        send(state, line.removeprefix("/"))
    except ClientError as exc:
        state.console.print(f"error: {exc}", style="red", markup=False, highlight=False)


def _lines(state: ChatState) -> Iterable[str]:
    """Input lines until Ctrl-D or /quit; Ctrl-C at the prompt just clears the line."""
    while not state.done:
        try:
            line = input(PROMPT).strip()
        except EOFError:
            state.console.print()
            return
        except KeyboardInterrupt:
            state.console.print()
            continue
        if line:
            yield line


def chat(
    thread: ThreadOption = None,
    model: ModelOption = None,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
    history_file: Annotated[
        Path | None, typer.Option(help="Where input history is kept.", show_default=False)
    ] = None,
) -> None:
    """Chat interactively: replies stream in, /help lists the commands, Ctrl-D leaves."""
    console = Console(highlight=False)
    with connected(url, api_key) as client:
        # Fail fast (with the right exit code) on a wrong URL, key or thread id.
        title = client.thread(thread).title if thread else None
        if not thread:
            client.threads(limit=1)
        state = ChatState(client, console, thread, TurnOptions(model=model))
        state.follow = lambda opened: follow_reply(state, opened)
        where = f"thread {thread} ({title or 'untitled'})" if thread else "a new thread"
        console.print(f"graphchat chat · {client.url} · {where} · /help for commands", style="dim")
        editor = _LineEditor(history_file or _history_file())
        try:
            for line in _lines(state):
                _handle(state, line)
        finally:
            editor.save()
