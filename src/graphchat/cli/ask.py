"""`graphchat ask`: one question, the answer on stdout, so it composes with pipes and scripts."""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from graphchat.cli.client import DEFAULT_URL, GraphchatClient, TurnOptions
from graphchat.cli.client_errors import ClientError, ExitCode
from graphchat.cli.connection import (
    ApiKeyOption,
    JsonOption,
    UrlOption,
    connected,
    fail,
)
from graphchat.cli.reply_stream import Rejoining, ReplyStream, Token

ThreadOption = Annotated[
    str | None, typer.Option("--thread", "-t", help="Continue this thread.", show_default=False)
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model to use.", show_default=False)
]


def read_question(question: str | None) -> str:
    """The question given, or all of stdin when it is `-`, missing, and stdin is not a terminal."""
    if question is None or question == "-":
        if question is None and sys.stdin.isatty():
            raise fail("no question: give one, or pipe it on stdin", ExitCode.USAGE)
        question = sys.stdin.read()
    question = question.strip()
    if not question:
        raise fail("the question is empty", ExitCode.USAGE)
    return question


def stop_run(client: GraphchatClient, reply: ReplyStream | None) -> None:
    """Cancel the reply's run on the server (best effort: the user already chose to stop)."""
    if reply is None or reply.thread_id is None or reply.run_id is None:
        return
    # Failing here leaves the run to finish on its own; nothing the user can do about it now.
    with contextlib.suppress(ClientError):
        client.cancel(reply.thread_id, reply.run_id)


def _stream_answer(
    client: GraphchatClient, question: str, thread: str | None, options: TurnOptions
) -> str | None:
    reply: ReplyStream | None = None
    try:
        with client.stream(question, thread_id=thread, options=options) as reply:
            for item in reply:
                if isinstance(item, Token):
                    sys.stdout.write(item.text)
                    sys.stdout.flush()
                elif isinstance(item, Rejoining):  # apart from the answer on stdout
                    typer.echo(f"\n({item.reason}: rejoining the reply…)", err=True)
            sys.stdout.write("\n")
            return reply.thread_id
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        stop_run(client, reply)
        raise


def ask(
    question: Annotated[
        str | None,
        typer.Argument(
            help="The question; read from stdin when omitted or `-`.", show_default=False
        ),
    ] = None,
    thread: ThreadOption = None,
    model: ModelOption = None,
    system: Annotated[str | None, typer.Option(help="System prompt.", show_default=False)] = None,
    temperature: Annotated[float | None, typer.Option(show_default=False)] = None,
    max_tokens: Annotated[int | None, typer.Option(show_default=False)] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Ask one question and print the answer (streamed as it is generated)."""
    text = read_question(question)
    options = TurnOptions(
        model=model, system=system, temperature=temperature, max_tokens=max_tokens
    )
    with connected(url, api_key) as client:
        if as_json:
            result = client.chat(text, thread_id=thread, options=options)
            typer.echo(result.model_dump_json(indent=2))
            return
        thread_id = _stream_answer(client, text, thread, options)
    if thread_id and thread is None and sys.stderr.isatty():
        typer.echo(f"(thread {thread_id}: continue with --thread {thread_id})", err=True)
