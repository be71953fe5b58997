"""`python -m graphchat`: the same as the `graphchat` command."""

from graphchat.cli import run

run()
