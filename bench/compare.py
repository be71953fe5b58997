"""Compare source trees of graphchat side by side, each measured from both start orders.

`python -m bench compare --database sqlite --mode stream before=HEAD~1 after=HEAD`

Each tree (a git revision, exported with `git archive`, or a directory holding `src/graphchat`)
runs as its own server on its own scratch database, against one backend. A pass starts the
servers in the order given and alternates them round by round; a second pass starts fresh
servers in the reverse order. Two servers of the same tree differ by their start order alone:
in round 25's A/A runs (bench/analysis.md) the one started first was 0.2-0.45 ms slower to the
first streamed token, every round, so a comparison run in one order credits the tree started
second. Each difference printed is the mean of the two passes, in which that bias cancels; half
their disagreement is printed beside it (the start order's share, and the noise).

Modes: `chat` times c=1 `/chat` turns on one thread of growing length, `stream` the first token
of `/stream` (20 tokens 5 ms apart), each as the time added to the backend alone, timed just
before, and the server's CPU per turn or stream. `--apart` keeps the servers on CPUs apart from
the client, the backend and the database (bench/placement.py): in round 27's A/A runs the
start order's bias then shrank to 0.13 ms on PostgreSQL and below the noise on SQLite.

`--auth NAME=KIND` runs the tree named NAME with authentication on, its client sending a static
key (`static`) or a generated one (`key`), e.g. `bench compare off=HEAD key=HEAD --auth key=key`
for what an API key adds to a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import credentials, databases, placement, procs
from bench.load import (
    backend_body,
    backend_stream,
    chat_body,
    check,
    client,
    graphchat_stream,
    stream_body,
)
from support.process import ServerProcess

# (added ms over the backend alone, server CPU ms) per turn or stream, median of one round.
Sample = tuple[float, float]


@dataclass(frozen=True)
class Difference:
    """One tree against the first, in ms: added time (mean and per pass) and CPU."""

    mean: float
    per_pass: list[float]
    start_order: float
    cpu: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trees", nargs="+", help="name=REVISION or name=DIRECTORY, 2 or more")
    parser.add_argument("--database", choices=databases.KINDS, default="sqlite")
    parser.add_argument("--mode", choices=("chat", "stream"), default="chat")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per pass")
    parser.add_argument("--seconds", type=float, default=8.0, help="per server per round")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="the servers on CPUs apart from the client, the backend and the database",
    )
    parser.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="NAME=KIND",
        help=f"the tree NAME with authentication on; KIND is one of {credentials.KINDS}",
    )


@contextmanager
def _sources(spec: str, into: Path) -> Iterator[Path]:
    """The `src` directory of a tree given as a directory or as a git revision."""
    given = Path(spec)
    if (given / "src" / "graphchat").is_dir():
        yield given / "src"
        return
    exported = subprocess.run(
        ["git", "-C", str(procs.ROOT), "archive", spec, "src"], check=True, capture_output=True
    ).stdout
    target = into / uuid.uuid4().hex
    target.mkdir()
    # tar rather than tarfile: Python 3.11 before 3.11.4 (Debian 12's, which `make install` may
    # choose) has no extraction filters, and this archive is git's own.
    subprocess.run(["tar", "-x", "-C", str(target)], input=exported, check=True)
    yield target / "src"


async def _chat_round(
    server: ServerProcess, headers: dict[str, str], backend_url: str, seconds: float
) -> Sample:
    graphchat = client(server.url, 4, headers=headers)
    async with graphchat, client(backend_url, 4) as backend:
        reply = await graphchat.post("/chat", json=chat_body(None))
        check(reply)
        thread_id = reply.json()["thread_id"]
        for _ in range(10):
            check(await graphchat.post("/chat", json=chat_body(thread_id)))
        ours, alone, turns = [], [], 0
        cpu_before = procs.cpu_seconds(server)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await backend_stream(backend, backend_body())
            alone.append(time.perf_counter() - began)
            began = time.perf_counter()
            check(await graphchat.post("/chat", json=chat_body(thread_id)))
            ours.append(time.perf_counter() - began)
            turns += 1
        cpu = procs.cpu_seconds(server) - cpu_before
    return (statistics.median(ours) - statistics.median(alone)) * 1e3, cpu / turns * 1e3


async def _stream_round(
    server: ServerProcess, headers: dict[str, str], backend_url: str, seconds: float
) -> Sample:
    graphchat = client(server.url, 4, headers=headers)
    async with graphchat, client(backend_url, 4) as backend:
        thread_id = f"compare-{uuid.uuid4().hex}"
        for _ in range(5):
            await graphchat_stream(graphchat, stream_body(thread_id))
        ours, alone, streams = [], [], 0
        cpu_before = procs.cpu_seconds(server)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            alone.append((await backend_stream(backend, backend_body())).first)
            ours.append((await graphchat_stream(graphchat, stream_body(thread_id))).first)
            streams += 1
        cpu = procs.cpu_seconds(server) - cpu_before
    return (statistics.median(ours) - statistics.median(alone)) * 1e3, cpu / streams * 1e3


def _pass(
    args: argparse.Namespace, backend_url: str, trees: list[tuple[str, Path]]
) -> dict[str, list[Sample]]:
    """Fresh servers started in `trees`' order, alternated round by round."""
    measure = _stream_round if args.mode == "stream" else _chat_round
    samples: dict[str, list[Sample]] = {name: [] for name, _ in trees}
    with ExitStack() as stack:
        servers, headers = {}, {}
        for name, source in trees:
            database = stack.enter_context(databases.scratch(args.database))
            auth = args.auth_of.get(name, "off")
            env = procs.server_env(database, backend_url, PYTHONPATH=str(source))
            env |= credentials.server_env(auth)
            servers[name] = stack.enter_context(procs.graphchat(env, f"compare-{name}"))
            headers[name] = credentials.headers(auth, servers[name])
            procs.wait_settled(servers[name])
            procs.in_service(servers[name], database, headers[name])
        if args.apart:  # every server (one measured at a time) on graphchat's side
            pids = [server.process.pid for server in servers.values() if server.process]
            stack.enter_context(placement.graphchat_apart(args.database, backend_url, pids))
        for round_number in range(args.rounds):
            order = trees if round_number % 2 == 0 else trees[::-1]
            for name, _ in order:
                sample = measure(servers[name], headers[name], backend_url, args.seconds)
                samples[name].append(asyncio.run(sample))
            line = "  ".join(f"{n} {s[-1][0]:+.2f}/{s[-1][1]:.2f}" for n, s in samples.items())
            print(f"  round {round_number}: {line}", flush=True)
    return samples


def _medians(samples: list[Sample]) -> Sample:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def difference(passes: list[dict[str, list[Sample]]], first: str, other: str) -> Difference:
    """`other`'s added time minus `first`'s: the mean over the passes, each pass's, and half
    their spread (the start order's share when the passes started the servers in reverse)."""
    gaps = [_by_name(p)[other][0] - _by_name(p)[first][0] for p in passes]
    cpu = [_by_name(p)[other][1] - _by_name(p)[first][1] for p in passes]
    share = (max(gaps) - min(gaps)) / 2
    return Difference(statistics.mean(gaps), gaps, share, statistics.mean(cpu))


def _report(passes: list[dict[str, list[Sample]]], names: list[str]) -> None:
    for number, samples in enumerate(passes, 1):
        line = "  ".join(f"{n} {a:+.2f} / {c:.2f}" for n, (a, c) in _by_name(samples).items())
        print(f"pass {number} (added ms / server CPU ms): {line}")
    for name in names[1:]:
        found = difference(passes, names[0], name)
        each = ", ".join(f"{gap:+.2f}" for gap in found.per_pass)
        print(
            f"{name} - {names[0]}: added {found.mean:+.2f} ms (passes {each}; half their spread"
            f" ±{found.start_order:.2f}), CPU {found.cpu:+.2f} ms"
        )


def _auth_of(given: list[str], names: list[str]) -> dict[str, str]:
    """`--auth`'s NAME=KIND pairs as a dict, each NAME one of the trees'."""
    found = dict(pair.split("=", 1) for pair in given if "=" in pair)
    if len(found) != len(given) or not set(found) <= set(names):
        raise SystemExit(f"--auth takes NAME=KIND with NAME one of {names}")
    if not set(found.values()) <= set(credentials.KINDS):
        raise SystemExit(f"--auth: KIND is one of {credentials.KINDS}")
    return found


def _by_name(samples: dict[str, list[Sample]]) -> dict[str, Sample]:
    return {name: _medians(values) for name, values in samples.items()}


def run(args: argparse.Namespace) -> None:
    specs = [tree.split("=", 1) for tree in args.trees]
    if len(specs) < 2 or any(len(spec) != 2 for spec in specs):
        raise SystemExit("compare takes two or more trees as name=REVISION or name=DIRECTORY")
    args.auth_of = _auth_of(args.auth, [name for name, _ in specs])
    tokens, delay = (20, 0.005) if args.mode == "stream" else (0, 0.0)
    print(f"{time.strftime('%H:%M UTC', time.gmtime())} {args.database} {args.mode}", flush=True)
    with ExitStack() as stack:
        exported = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="compare-")))
        trees = [(name, stack.enter_context(_sources(spec, exported))) for name, spec in specs]
        backend_url = stack.enter_context(procs.backend(tokens, delay))
        try:
            passes = [_pass(args, backend_url, trees), _pass(args, backend_url, trees[::-1])]
        except (placement.NotApart, placement.NotMoved) as exc:
            raise SystemExit(f"--apart: graphchat cannot be kept apart here: {exc}") from exc
    _report(passes, [name for name, _ in trees])
