"""The `graphchat` command: the server, database maintenance, and the chat client."""

from __future__ import annotations

import sys

from graphchat.collector import paused


def run() -> None:
    """Console-script entry point; its modules load with the collector paused."""
    with paused():
        from graphchat.cli.main import app

    sys.exit(app())
