"""`graphchat`: serve the API, manage the database, and (in `client` commands) talk to a server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from graphchat import __version__
from graphchat.cli.archive import export, import_
from graphchat.cli.ask import ask
from graphchat.cli.chat import chat
from graphchat.cli.config import config_app, load_settings
from graphchat.cli.connection import EXIT_CODES_HELP
from graphchat.cli.keys import keys_app
from graphchat.cli.threads import models, threads_app

app = typer.Typer(help="graphchat: a self-hosted chat-agent service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
# The client commands: talk to a running server over HTTP.
app.command(epilog=EXIT_CODES_HELP)(chat)
app.command(epilog=EXIT_CODES_HELP)(ask)
app.add_typer(threads_app, name="threads")
app.command(epilog=EXIT_CODES_HELP)(models)
app.command("export", epilog=EXIT_CODES_HELP)(export)
app.command("import", epilog=EXIT_CODES_HELP)(import_)
app.add_typer(config_app, name="config")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"graphchat {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """graphchat: a self-hosted chat-agent service."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [GRAPHCHAT_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [GRAPHCHAT_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes sharing the port [GRAPHCHAT_WORKERS].")
    ] = None,
) -> None:
    """Run the HTTP API (and web UI)."""
    from graphchat.errors import GraphchatError
    from graphchat.logging import configure_logging
    from graphchat.serving import serve as run_server

    settings = load_settings(host=host, port=port, workers=workers)
    configure_logging(settings.observability)
    try:
        run_server(settings)
    except GraphchatError as exc:  # the database, before several workers start
        typer.echo(f"graphchat: cannot start: {exc}", err=True)
        raise typer.Exit(1) from None


def _run_db(action: str, revision: str) -> None:
    from graphchat.store import migrate
    from graphchat.store.database import create_engine

    settings = load_settings()

    async def go() -> None:
        engine = create_engine(settings.database)
        try:
            if action == "upgrade":
                await migrate.upgrade(engine, revision)
            elif action == "downgrade":
                await migrate.downgrade(engine, revision)
            current = await migrate.current_revision(engine)
            typer.echo(
                f"database at revision {current or 'none'} (head: {migrate.head_revision()})"
            )
        finally:
            await engine.dispose()

    asyncio.run(go())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    _run_db("upgrade", revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (`base` removes every table)."""
    _run_db("downgrade", revision)


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    _run_db("current", "head")
