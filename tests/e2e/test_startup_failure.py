"""A start-up graphchat refuses for a reason it names ends the process with that reason on one
log line, not with the traceback of the exception's whole chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support.process import free_port


def test_a_database_that_never_answers_ends_start_up_with_one_line() -> None:
    closed_port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("GRAPHCHAT_")},
        "GRAPHCHAT_DATABASE_URL": f"postgresql://graphchat:secret@127.0.0.1:{closed_port}/x",
        "GRAPHCHAT_DB_STARTUP_WAIT_SECONDS": "0",
        "GRAPHCHAT_OLLAMA_URL": "http://127.0.0.1:9",
        "GRAPHCHAT_PORT": str(free_port()),
        "GRAPHCHAT_LOG_FORMAT": "json",
    }
    served = subprocess.run(
        [sys.executable, "-m", "graphchat", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert served.returncode != 0
    output = served.stdout + served.stderr
    assert "Traceback" not in output
    errors = [
        line["event"] for line in map(json.loads, output.splitlines()) if line["level"] == "error"
    ]
    named = (
        f"start-up failed: the database at postgresql+asyncpg://graphchat:***@127.0.0.1:"
        f"{closed_port}/x did not answer within 0 s: "
    )
    assert errors[0].startswith(named)
    assert "Connection refused" in errors[0]
    assert errors[1:] == ["Application startup failed. Exiting."]
    assert "secret" not in output
