"""The `graphchat` command run as a real process, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Python start-up plus imports is slow on a busy machine; these bound hangs, not speed.
COMMAND_TIMEOUT = 120


def client_env(home: Path, url: str | None = None, **extra: str) -> dict[str, str]:
    """A clean environment for a client process: no inherited server URL or key, no colours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")}
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(home / "state"),
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="200",
        PYTHONUNBUFFERED="1",
    )
    if url is not None:
        env["GRAPHCHAT_URL"] = url
    env.update(extra)
    return env


@dataclass
class Cli:
    """Runs `python -m graphchat ARGS…` with its own environment and a pipe on stdin."""

    env: dict[str, str]

    def __call__(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "graphchat", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
