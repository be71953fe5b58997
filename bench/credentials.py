"""How a benchmark's client proves who it is: no key (auth off), a static key from
`GRAPHCHAT_API_KEYS`, or a key made by `graphchat keys create` and looked up in the database."""

from __future__ import annotations

import secrets
import subprocess
import sys

from bench import procs

KINDS = ("off", "static", "key")
_STATIC_SECRET = secrets.token_urlsafe(24)  # for this run of the benchmark
_OWNER = "bench"


def server_env(kind: str) -> dict[str, str]:
    """The settings that turn `kind`'s authentication on."""
    if kind == "off":
        return {}
    env = {"GRAPHCHAT_AUTH": "on"}
    if kind == "static":
        env["GRAPHCHAT_API_KEYS"] = f"{_OWNER}:{_STATIC_SECRET}"
    return env


def headers(kind: str, server: procs.ServerProcess) -> dict[str, str]:
    """A started server's request headers for `kind`: a generated key is created for it (with
    the server's own tree and database) and its secret sent."""
    if kind == "off":
        return {}
    secret = _STATIC_SECRET if kind == "static" else _created_secret(server)
    return {"Authorization": f"Bearer {secret}"}


def _created_secret(server: procs.ServerProcess) -> str:
    command = [sys.executable, "-m", "graphchat", "keys", "create", "--name", "bench"]
    created = subprocess.run(
        [*command, "--owner", _OWNER], env=server.env, capture_output=True, text=True, check=True
    )
    return created.stdout.strip().splitlines()[-1]  # the secret is printed alone, last
