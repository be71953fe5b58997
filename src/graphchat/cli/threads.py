"""`graphchat threads ls|show|rm|rename` and `graphchat models`: browse what a server holds."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from graphchat.cli.client import DEFAULT_URL
from graphchat.cli.connection import (
    EXIT_CODES_HELP,
    ApiKeyOption,
    JsonOption,
    UrlOption,
    connected,
)
from graphchat.cli.wire import WireMessage, WireThread

threads_app = typer.Typer(
    help="List, show, rename and delete threads.", epilog=EXIT_CODES_HELP, no_args_is_help=True
)
ThreadArg = Annotated[str, typer.Argument(help="The thread id.", show_default=False)]


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _when(thread: WireThread) -> str:
    return thread.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")


def threads_table(threads: list[WireThread], current: str | None = None) -> Table:
    """Threads as a table (shared with the chat's `/threads`); the current one is marked."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=36 if threads else None)
    table.add_column("TITLE", overflow="ellipsis", no_wrap=True, max_width=40)
    table.add_column("MODEL", no_wrap=True)
    table.add_column("UPDATED", no_wrap=True)
    for thread in threads:
        marker = " *" if thread.thread_id == current else ""
        table.add_row(
            thread.thread_id + marker, thread.title or "", thread.model or "", _when(thread)
        )
    return table


def print_messages(console: Console, messages: list[WireMessage]) -> None:
    """A transcript: one block per message, the speaker on its own line."""
    for message in messages:
        status = "" if message.status == "complete" else f" ({message.status})"
        console.print(f"[bold]{message.role}[/bold]{status}", highlight=False)
        console.print(message.content, markup=False, highlight=False)
        console.print()


@threads_app.command("ls", epilog=EXIT_CODES_HELP)
def list_threads(
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many threads.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List threads, most recently active first."""
    with connected(url, api_key) as client:
        page = client.threads(limit=limit)
    if as_json:
        _print_json(page.model_dump(mode="json"))
    elif not page.threads:
        typer.echo("no threads yet")
    else:
        Console(highlight=False).print(threads_table(page.threads))


@threads_app.command("show", epilog=EXIT_CODES_HELP)
def show_thread(
    thread_id: ThreadArg,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the last N messages.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show a thread and its latest messages."""
    with connected(url, api_key) as client:
        thread = client.thread(thread_id)
        page = client.messages(thread_id, limit=limit, newest=True)
    if as_json:
        body = thread.model_dump(mode="json")
        _print_json({**body, "messages": [m.model_dump(mode="json") for m in page.messages]})
        return
    console = Console(highlight=False)
    console.print(f"[bold]{thread.title or 'untitled'}[/bold]  {thread.thread_id}")
    console.print(f"model: {thread.model or 'default'} · updated {_when(thread)}\n")
    if page.has_more:
        console.print(f"(older messages not shown; --limit {limit} is the page size)\n")
    print_messages(console, page.messages)


@threads_app.command("rm", epilog=EXIT_CODES_HELP)
def remove_threads(
    thread_ids: Annotated[list[str], typer.Argument(help="Thread ids.", show_default=False)],
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete threads with all their messages."""
    with connected(url, api_key) as client:
        for thread_id in thread_ids:
            client.delete_thread(thread_id)
            typer.echo(f"deleted {thread_id}")


@threads_app.command("rename", epilog=EXIT_CODES_HELP)
def rename_thread(
    thread_id: ThreadArg,
    title: Annotated[str, typer.Argument(help="The new title.", show_default=False)],
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Give a thread a new title."""
    with connected(url, api_key) as client:
        thread = client.rename_thread(thread_id, title)
    typer.echo(f"{thread.thread_id}: {thread.title}")


def models(
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the models the server's backends offer."""
    with connected(url, api_key) as client:
        listing = client.models()
    if as_json:
        _print_json(listing.model_dump(mode="json"))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("MODEL", "BACKEND", "AVAILABLE", "CAPABILITIES"):
        table.add_column(column, no_wrap=True)
    for model in listing.models:
        name = f"{model.name} (default)" if model.name == listing.default_model else model.name
        available = "yes" if model.available else "no"
        table.add_row(name, model.backend, available, ", ".join(model.capabilities))
    Console(highlight=False).print(table)
