"""A request sent in a thread while the test holds something, and waiting for what it causes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx


def in_background(
    call: Callable[[], httpx.Response],
) -> tuple[threading.Thread, list[httpx.Response]]:
    """Start `call` in a thread; its response lands in the list once it has one."""
    answers: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: answers.append(call()))
    worker.start()
    return worker, answers


def wait_until(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Poll `condition`; fail with `what` if it is still false after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
