"""Run `graphchat keys …` as a real subprocess against a test database."""

from __future__ import annotations

import os
import subprocess
import sys


def graphchat(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHCHAT_")}
    env["GRAPHCHAT_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "graphchat", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def create_key(database_url: str, owner: str, name: str = "test") -> str:
    """A new key's secret, as `graphchat keys create` prints it."""
    done = graphchat(database_url, "keys", "create", "--name", name, "--owner", owner)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
