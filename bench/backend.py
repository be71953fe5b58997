"""The "instant backend": the Ollama-protocol test double in a process of its own.

`python -m bench.backend --port P [--tokens N --token-delay S --first-token-delay S]` serves the
same scripted reply to every `/api/chat` (nothing recorded, so memory stays flat over long runs)
and prints `ready <port>` once listening. TCP_NODELAY is kept, as real Ollama sets it.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from http.server import ThreadingHTTPServer

from support.fake_ollama import FakeOllama, RecordedRequest, Reply


class ScriptedBackend(FakeOllama):
    """Answers every chat with one fixed reply and keeps no request log."""

    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self._reply = reply

    def _next_reply(self) -> Reply | None:
        return self._reply

    def _record(self, request: RecordedRequest) -> None:
        pass


def _reply(args: Any) -> Reply:
    tokens = [f"tok{index} " for index in range(args.tokens)] if args.tokens else None
    return Reply(
        tokens=tokens, token_delay=args.token_delay, first_token_delay=args.first_token_delay
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=0, help="0: echo the user message")
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    args = parser.parse_args()
    threading.stack_size(512 * 1024)  # thousands of held streams are one thread each
    # The stdlib default backlog (5) drops connections when a thousand streams open at once.
    ThreadingHTTPServer.request_queue_size = 4096
    backend = ScriptedBackend(_reply(args)).start(args.port)
    print(f"ready {backend.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        backend.stop()


if __name__ == "__main__":
    main()
