"""The slash commands of `graphchat chat` (`/new`, `/open ID`, `/set temperature 0.2`, …)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from graphchat.cli.client import GraphchatClient, TurnOptions
from graphchat.cli.client_errors import ClientError
from graphchat.cli.reply_stream import ReplyStream
from graphchat.cli.threads import print_messages, threads_table
from graphchat.cli.wire import WireMessage


@dataclass
class ChatState:
    """What the chat remembers between lines: the server, the thread and the turn options."""

    client: GraphchatClient
    console: Console
    thread_id: str | None = None
    options: TurnOptions = field(default_factory=TurnOptions)
    done: bool = False
    # Shows a streamed reply (set by the chat loop; /regenerate and /edit stream through it).
    follow: Callable[[AbstractContextManager[ReplyStream]], None] | None = None


class CommandError(Exception):
    """A slash command that cannot run as typed; its message is shown and the chat goes on."""


Handler = Callable[[ChatState, str], None]
_PARSERS: dict[str, Callable[[str], object]] = {
    "temperature": float,
    "top_p": float,
    "max_tokens": int,
    "seed": int,
    "system": str,
    "stop": lambda value: [part for part in value.split(",") if part],
}
_RESET_WORDS = frozenset({"", "default", "none", "off"})


def _current(state: ChatState) -> str:
    if state.thread_id is None:
        raise CommandError("no thread yet: send a message first (or /open ID)")
    return state.thread_id


def _new(state: ChatState, _: str) -> None:
    state.thread_id = None
    state.console.print("new thread: it is created with your next message")


def _threads(state: ChatState, _: str) -> None:
    page = state.client.threads(limit=20)
    if not page.threads:
        state.console.print("no threads yet")
        return
    state.console.print(threads_table(page.threads, current=state.thread_id))


def _open(state: ChatState, thread_id: str) -> None:
    if not thread_id:
        raise CommandError("usage: /open THREAD_ID (/threads lists them)")
    thread = state.client.thread(thread_id)
    recent = state.client.messages(thread.thread_id, limit=4, newest=True)
    state.thread_id = thread.thread_id
    state.console.print(f"opened thread {thread.thread_id}: {thread.title or 'untitled'}")
    if recent.messages:
        state.console.print("…" if recent.has_more else "")
        print_messages(state.console, recent.messages)


def _rename(state: ChatState, title: str) -> None:
    if not title:
        raise CommandError("usage: /rename TITLE")
    thread = state.client.rename_thread(_current(state), title)
    state.console.print(f"renamed to: {thread.title}")


def _delete(state: ChatState, _: str) -> None:
    thread_id = _current(state)
    state.client.delete_thread(thread_id)
    state.thread_id = None
    state.console.print(f"deleted thread {thread_id}; your next message starts a new one")


def _model(state: ChatState, name: str) -> None:
    if name:
        state.options.model = None if name in _RESET_WORDS else name
        state.console.print(f"model: {state.options.model or 'the server default'}")
        return
    listing = state.client.models()
    current = state.options.model or listing.default_model
    for model in listing.models:
        mark = "*" if model.name == current else " "
        note = "" if model.available else " (unavailable)"
        state.console.print(f"{mark} {model.name} [{model.backend}]{note}", markup=False)


def _set(state: ChatState, argument: str) -> None:
    name, _, value = argument.partition(" ")
    if not name:
        values = state.options.as_json()
        values.pop("model", None)
        shown = ", ".join(f"{key}={value!r}" for key, value in values.items())
        state.console.print(shown or "all parameters at the server's defaults", markup=False)
        return
    if name not in _PARSERS:
        raise CommandError(f"/set takes one of: {', '.join(_PARSERS)}")
    value = value.strip()
    try:
        parsed = None if value.lower() in _RESET_WORDS else _PARSERS[name](value)
    except ValueError:
        raise CommandError(f"{name}: {value!r} is not a valid value") from None
    setattr(state.options, name, parsed)
    state.console.print(f"{name} = {parsed!r}" if parsed is not None else f"{name}: default")


def _history(state: ChatState, count: str) -> None:
    limit = int(count) if count.isdigit() and int(count) > 0 else 20
    page = state.client.messages(_current(state), limit=limit, newest=True)
    print_messages(state.console, page.messages)


def highlighted(snippet: str) -> Text:
    """A search snippet (escaped HTML, hits in <mark>) as terminal text with the hits marked."""
    text = Text()
    for index, part in enumerate(re.split(r"</?mark>", snippet)):
        text.append(html.unescape(part), style="bold reverse" if index % 2 else "")
    return text


def _search(state: ChatState, query: str) -> None:
    if not query:
        raise CommandError("usage: /search WORDS")
    found = state.client.search(query, limit=10)
    hits = found["messages"]
    for hit in found["titles"]:
        state.console.print(
            Text(f"{hit['thread_id']}  title: ").append(highlighted(hit["snippet"]))
        )
    for hit in hits:
        where = f"{hit['thread_id']}  {hit['role']} #{hit['seq']}: "
        state.console.print(Text(where).append(highlighted(hit["snippet"])))
    if not hits and not found["titles"]:
        state.console.print("no matches")
    else:
        state.console.print("(/open THREAD_ID continues a thread)")


def _export(state: ChatState, path: str) -> None:
    thread_id = _current(state)
    target = Path(path or f"graphchat-{thread_id}.md")
    format = "json" if target.suffix == ".json" else "markdown"
    with state.client.export(thread_id, format) as chunks, target.open("wb") as sink:
        for chunk in chunks:
            sink.write(chunk)
    state.console.print(f"exported to {target} ({format})", markup=False, soft_wrap=True)


def _last_question(state: ChatState) -> WireMessage:
    """Your last message on the thread's current branch."""
    page = state.client.messages(_current(state), limit=20, newest=True)
    for message in reversed(page.messages):
        if message.role == "user":
            return message
    raise CommandError("no message of yours in the last 20 to regenerate or edit")


def _stream(state: ChatState, opened: AbstractContextManager[ReplyStream]) -> None:
    if state.follow is None:
        raise CommandError("this command needs the interactive chat")
    state.follow(opened)


def _regenerate(state: ChatState, _: str) -> None:
    question = _last_question(state)
    _stream(state, state.client.regenerate(_current(state), question.id, state.options))


def _edit(state: ChatState, text: str) -> None:
    if not text:
        raise CommandError("usage: /edit TEXT (sent in place of your last message)")
    question = _last_question(state)
    _stream(state, state.client.edit(_current(state), question.id, text, state.options))


def _help(state: ChatState, _: str) -> None:
    for name, (_handler, text) in COMMANDS.items():
        state.console.print(f"  {name:<22} {text}", markup=False, highlight=False)
    state.console.print(
        "  Ctrl-C stops a reply · Ctrl-D or /quit leaves · start a message with // to send a "
        "leading /",
        markup=False,
    )


def _quit(state: ChatState, _: str) -> None:
    state.done = True


COMMANDS: dict[str, tuple[Handler, str]] = {
    "/new": (_new, "start a new thread"),
    "/threads": (_threads, "list recent threads (* is the current one)"),
    "/open ID": (_open, "continue thread ID"),
    "/rename TITLE": (_rename, "rename the current thread"),
    "/delete": (_delete, "delete the current thread"),
    "/model [NAME]": (_model, "list models, or use NAME (`default` for the server's)"),
    "/set [NAME VALUE]": (_set, "temperature, top_p, max_tokens, seed, system, stop (a,b)"),
    "/history [N]": (_history, "show the last N messages of the thread"),
    "/search WORDS": (_search, "search all your threads"),
    "/export [FILE]": (_export, "save the thread as Markdown (or JSON if FILE ends in .json)"),
    "/regenerate": (_regenerate, "answer your last message again (the old reply is kept)"),
    "/edit TEXT": (_edit, "send TEXT in place of your last message (the original is kept)"),
    "/help": (_help, "this list"),
    "/quit": (_quit, "leave (Ctrl-D works too)"),
}
_BY_NAME = {usage.split()[0]: handler for usage, (handler, _text) in COMMANDS.items()}
_BY_NAME["/exit"] = _quit
COMMAND_NAMES = sorted(_BY_NAME)


def run_command(state: ChatState, line: str) -> None:
    """Run one slash command; errors are printed and never end the chat."""
    name, _, argument = line.strip().partition(" ")
    handler = _BY_NAME.get(name.lower())
    try:
        if handler is None:
            raise CommandError(f"unknown command {name}; /help lists them")
        handler(state, argument.strip())
    except (CommandError, ClientError) as exc:
        state.console.print(f"error: {exc}", style="red", markup=False, highlight=False)
