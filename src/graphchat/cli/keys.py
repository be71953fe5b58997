"""`graphchat keys`: create, list and revoke the API keys stored in the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from graphchat.cli.config import load_settings
from graphchat.errors import GraphchatError
from graphchat.security.keys import generate_key
from graphchat.settings import Settings

if TYPE_CHECKING:  # the store pulls in SQLAlchemy: keep client commands quick to start
    from graphchat.store import Store
    from graphchat.store.api_keys import ApiKey

keys_app = typer.Typer(help="API keys (used when GRAPHCHAT_AUTH=on).", no_args_is_help=True)
T = TypeVar("T")
_MAX_OWNER = 128


def _with_store(action: Callable[[Store], Awaitable[T]]) -> T:
    from graphchat.store import Store

    settings: Settings = load_settings()

    async def go() -> T:
        store = await Store.open(settings.database)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except GraphchatError as exc:
        typer.echo(f"graphchat: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _stamp(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
    used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
    return f"active, last used {used}"


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="What the key is for (shown by `keys ls`).")],
    owner: Annotated[str, typer.Option(help="Owner whose threads the key acts on.")] = "local",
) -> None:
    """Create a key and print its secret (shown only this once)."""
    if not owner.strip() or len(owner) > _MAX_OWNER:
        raise typer.BadParameter(f"must be 1 to {_MAX_OWNER} characters", param_hint="--owner")
    new = generate_key()

    async def action(store: Store) -> ApiKey:
        return await store.api_keys.create(
            owner=owner.strip(), name=name, prefix=new.prefix, key_hash=new.key_hash
        )

    key = _with_store(action)
    typer.echo(f"created key {key.id} (prefix {key.prefix}) for owner {key.owner!r}", err=True)
    typer.echo("store this secret now; it cannot be shown again:", err=True)
    typer.echo(new.token)


@keys_app.command("ls")
def list_keys(
    owner: Annotated[str | None, typer.Option(help="Only this owner's keys.")] = None,
) -> None:
    """List keys (never their secrets)."""

    async def action(store: Store) -> list[ApiKey]:
        return await store.api_keys.list_keys(owner=owner)

    keys = _with_store(action)
    if not keys:
        typer.echo("no keys", err=True)
    for key in keys:
        typer.echo(f"{key.id}  {key.prefix}  {key.owner}  {key.name}  {_stamp(key)}")


@keys_app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="The key's id or prefix.")]) -> None:
    """Revoke a key: requests with it get 401 from then on."""

    async def action(store: Store) -> ApiKey:
        return await store.api_keys.revoke(key)

    revoked = _with_store(action)
    typer.echo(f"revoked key {revoked.id} (prefix {revoked.prefix}, owner {revoked.owner!r})")
