"""6. Soak: concurrent clients mixing chats, streams (some dropped and rejoined), cancels,
listing and deletes for a while; then every accepted turn is counted in the database.

Reports the status counts, unanswered requests, throughput, the exactly-once audit, runs left
`running`, and the server's memory at idle, right after the load and after 10 s of rest.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench import databases, procs
from support.db import query
from support.soak import audit, soak

MB = 2**20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-actions", type=int, default=50_000, help="bound on the count")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per reply")
    parser.add_argument("--token-delay", type=float, default=0.005, help="seconds between tokens")


def _settle(database_url: str, seconds: float = 60.0) -> float:
    """Seconds until no run is `running` (or the bound)."""
    began = time.monotonic()
    while query(database_url, "SELECT id FROM runs WHERE status = 'running'"):
        if time.monotonic() - began > seconds:
            break
        time.sleep(0.2)
    return round(time.monotonic() - began, 1)


def _measure(args: argparse.Namespace, kind: str, backend_url: str) -> dict[str, Any]:
    with (
        databases.scratch(kind) as url,
        procs.graphchat(procs.server_env(url, backend_url), f"soak-{kind}") as server,
    ):
        asyncio.run(soak(server.url, clients=args.clients, seconds=2, max_actions=args.clients))
        idle = procs.rss_bytes(server)
        result = asyncio.run(
            soak(
                server.url,
                clients=args.clients,
                seconds=args.seconds,
                max_actions=args.max_actions,
            )
        )
        loaded = procs.rss_bytes(server)
        settle_s = _settle(url)
        counted = audit(url, result)
        time.sleep(10)  # memory after a rest: what a quiet server gives back
        rested = procs.rss_bytes(server)
    return {
        **result.figures(),
        "unanswered_examples": result.unanswered[:5],
        "checked_turns": counted["checked_turns"],
        "user_message_not_once": len(counted["user_not_once"]),
        "reply_not_once": len(counted["reply_not_once"]),
        "runs_left_running": counted["running"],
        "settle_s": settle_s,
        "rss_idle_mb": round(idle / MB, 1),
        "rss_after_load_mb": round(loaded / MB, 1),
        "rss_after_rest_mb": round(rested / MB, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"parameters": vars(args)}
    with procs.backend(tokens=args.tokens, token_delay=args.token_delay) as backend_url:
        for kind in databases.available(args.databases):
            results[kind] = _measure(args, kind, backend_url)
            print(f"  {kind}: {results[kind]}", flush=True)
    return results
