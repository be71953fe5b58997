"""What every client command shares: the `--url`/`--api-key` options and one-line error reports.

Exit codes (also in `graphchat --help` of each client command):
0 ok · 1 refused/other · 2 usage or configuration · 3 server not reachable · 4 not authorized ·
5 not found · 6 rate limited · 7 server or model error · 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from graphchat.cli.client import GraphchatClient
from graphchat.cli.client_errors import ClientError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 request refused or other error, 2 usage or configuration error, "
    "3 server not reachable, 4 not authorized, 5 not found, 6 rate limited, "
    "7 server or model error, 130 interrupted."
)

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="GRAPHCHAT_URL", help="The graphchat server.", show_envvar=True),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="GRAPHCHAT_API_KEY",
        help="API key, when the server requires one.",
        show_envvar=True,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print `graphchat: MESSAGE` on stderr and return the exit to raise."""
    typer.echo(f"graphchat: {message}", err=True)
    return typer.Exit(int(code))


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turns client errors into one line on stderr and the matching exit code; Ctrl-C into 130."""
    try:
        yield
    except ClientError as exc:
        raise fail(exc.message, exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


@contextmanager
def connected(url: str, api_key: str | None) -> Iterator[GraphchatClient]:
    """A client for the command's server, closed at the end; failures reported as one line."""
    with reported_errors(), GraphchatClient(url, api_key or None) as client:
        yield client
