"""7. Fuzzing: schemathesis over the whole OpenAPI document, every check and phase, 1,000+ cases.

The same run as `tests/api/test_schemathesis.py` with a larger budget, against `graphchat serve`
with auth on (the key passed as a header, the security schemes declared).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import databases, procs
from support.fuzzing import run_schemathesis

KEY = "bench-fuzz-key-0123456789"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=int, default=25, help="max examples per operation")


def _measure(args: argparse.Namespace, kind: str, backend_url: str) -> dict[str, Any]:
    env = procs.server_env("", backend_url, GRAPHCHAT_AUTH="on", GRAPHCHAT_API_KEYS=f"fuzz:{KEY}")
    with databases.scratch(kind) as url:
        env["GRAPHCHAT_DATABASE_URL"] = url
        with procs.graphchat(env, f"fuzz-{kind}") as server:
            began = time.monotonic()
            result = run_schemathesis(
                server.url, args.examples, headers={"Authorization": f"Bearer {KEY}"}
            )
    summary = [line for line in result.output.splitlines() if "generated" in line]
    return {
        "generated": result.generated,
        "failed": result.returncode != 0,
        "summary": summary[-1].strip() if summary else "",
        "seconds": round(time.monotonic() - began, 1),
        "failures": result.output[-4000:] if result.returncode else "",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"parameters": vars(args)}
    with procs.backend() as backend_url:
        for kind in databases.available(args.databases):
            results[kind] = _measure(args, kind, backend_url)
            print(f"  {kind}: {results[kind]['summary']}", flush=True)
    return results
