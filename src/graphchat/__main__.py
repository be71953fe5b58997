"""`python -m graphchat`: the same as the `graphchat` command."""

from graphchat.cli.main import run

run()
